"""A small ONNX Runtime session wrapper: explicit providers, thread settings, fallback warning."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.core.config import GraphOptimization, ProviderPreference

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
EXPECTED_INPUTS = ("history", "k", "exclude_seen", "exclude")
EXPECTED_OUTPUTS = ("scores", "items")

_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


@dataclass(frozen=True)
class SessionConfig:
    """ORT knobs taken from settings."""

    provider_preference: ProviderPreference = "auto"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    allow_spinning: bool = True
    graph_optimization: GraphOptimization = "all"
    enable_mem_pattern: bool = True


def choose_providers(preference: ProviderPreference, available: list[str]) -> list[str]:
    """CUDA first when allowed and available, always CPU last."""
    if preference == "cpu":
        return [CPU]
    if preference == "cuda" and CUDA not in available:
        logger.warning(
            "provider_preference=cuda but CUDA is not available; using CPU",
            extra={"available": available},
        )
    if CUDA in available:
        return [CUDA, CPU]
    return [CPU]


class OnnxSession:
    """Wraps one ``InferenceSession`` for the bundle graph; ``run`` is the only inference call."""

    def __init__(self, model_path: Path, config: SessionConfig) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.intra_op_threads
        options.inter_op_num_threads = config.inter_op_threads
        options.graph_optimization_level = _OPT_LEVELS[config.graph_optimization]
        options.enable_mem_pattern = config.enable_mem_pattern
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if config.allow_spinning else "0"
        )
        self.requested_providers = choose_providers(
            config.provider_preference, ort.get_available_providers()
        )
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=self.requested_providers
        )
        self.providers: list[str] = list(self._session.get_providers())
        if self.requested_providers[0] != CPU and self.providers[0] == CPU:
            logger.warning(
                "ONNX Runtime fell back to CPU",
                extra={"requested": self.requested_providers, "active": self.providers},
            )
        inputs = {i.name for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if set(EXPECTED_INPUTS) - inputs or set(EXPECTED_OUTPUTS) - set(outputs):
            raise ValueError(
                f"graph inputs {sorted(inputs)} / outputs {outputs} do not match the bundle "
                f"contract {list(EXPECTED_INPUTS)} / {list(EXPECTED_OUTPUTS)}"
            )

    @property
    def active_provider(self) -> str:
        return self.providers[0]

    def run(
        self, history: np.ndarray, k: int, exclude_seen: np.ndarray, exclude: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """history (B, L) int64, exclude_seen (B,) bool, exclude (B, E) int64 -> (B, k) x2."""
        feeds = {
            "history": history,
            "k": np.array([k], dtype=np.int64),
            "exclude_seen": exclude_seen,
            "exclude": exclude,
        }
        scores, items = self._session.run(list(EXPECTED_OUTPUTS), feeds)
        return np.asarray(scores), np.asarray(items)
