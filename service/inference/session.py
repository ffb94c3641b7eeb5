"""A small ONNX Runtime session wrapper: explicit providers, thread settings, fallback warning.

On CPU a run is a plain ``session.run``. When the CUDA provider is active the wrapper binds
inputs and outputs with IO binding (no per-run allocation of output buffers on the host side),
and can replay one CUDA graph per history-length bucket. Half precision comes from the bundle
itself (``paarec export --fp16``, verified against PyTorch at export), not from a conversion
at load time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
Outputs = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SessionConfig:
    """ORT knobs taken from settings (defaults: see docs/benchmarks/serving.md)."""

    provider_preference: ProviderPreference = "auto"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    allow_spinning: bool = True
    graph_optimization: GraphOptimization = "all"
    enable_mem_pattern: bool = True
    # CUDA only; ignored (with a log line) when the CUDA provider is not the active one.
    cuda_device_id: int = 0
    cuda_graphs: bool = False
    graph_batch: int = 32  # rows of a captured CUDA graph (the batcher's max batch)
    graph_buckets: tuple[int, ...] = ()  # history lengths that get a captured graph
    graph_exclude_width: int = 64
    graph_k: int = 100  # every graph run asks for this many and rows are sliced to their k


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


class BoundRunner:
    """IO-bound runs: inputs copied once to ``device``, outputs allocated by ORT on ``device``."""

    def __init__(self, session: ort.InferenceSession, device: str, device_id: int = 0) -> None:
        self._session = session
        self.device = device
        self.device_id = device_id

    def run(
        self, history: np.ndarray, k: int, exclude_seen: np.ndarray, exclude: np.ndarray
    ) -> Outputs:
        binding = self._session.io_binding()
        feeds = _feeds(history, k, exclude_seen, exclude)
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name in EXPECTED_OUTPUTS:
            binding.bind_output(name, self.device, self.device_id)
        self._session.run_with_iobinding(binding)
        scores, items = binding.copy_outputs_to_cpu()
        return np.asarray(scores), np.asarray(items)


class _GraphSlot:
    """Fixed-address buffers of one captured graph: (graph_batch, length) history and friends."""

    def __init__(self, runner: GraphRunner, graph_id: int, length: int) -> None:
        r = runner
        shapes: dict[str, tuple[tuple[int, ...], Any]] = {
            "history": ((r.batch, length), np.int64),
            "k": ((1,), np.int64),
            "exclude_seen": ((r.batch,), np.bool_),
            "exclude": ((r.batch, r.exclude_width), np.int64),
            "scores": ((r.batch, r.k), np.float32),
            "items": ((r.batch, r.k), np.int64),
        }
        self.values = {
            name: ort.OrtValue.ortvalue_from_numpy(np.zeros(shape, dtype), r.device, r.device_id)
            for name, (shape, dtype) in shapes.items()
        }
        self.binding = r.session.io_binding()
        for name in EXPECTED_INPUTS:
            self.binding.bind_ortvalue_input(name, self.values[name])
        for name in EXPECTED_OUTPUTS:
            self.binding.bind_ortvalue_output(name, self.values[name])
        self.options = ort.RunOptions()
        self.options.add_run_config_entry("gpu_graph_id", str(graph_id))


class GraphRunner:
    """One CUDA graph per length bucket; shapes outside the captured ones run uncaptured."""

    def __init__(self, session: ort.InferenceSession, config: SessionConfig, device: str) -> None:
        self.session = session
        self.device = device
        self.device_id = config.cuda_device_id
        self.batch = config.graph_batch
        self.buckets = tuple(config.graph_buckets)
        self.exclude_width = config.graph_exclude_width
        self.k = config.graph_k
        self._slots: dict[int, _GraphSlot] = {}
        self._fallback = BoundRunner(session, device, self.device_id)
        self._skip = ort.RunOptions()
        self._skip.add_run_config_entry("gpu_graph_id", "-1")  # -1: no capture, no replay

    def run(
        self, history: np.ndarray, k: int, exclude_seen: np.ndarray, exclude: np.ndarray
    ) -> Outputs:
        rows, length = history.shape
        if (
            length not in self.buckets
            or rows > self.batch
            or exclude.shape[1] > self.exclude_width
            or k > self.k
        ):
            return self._fallback.run(history, k, exclude_seen, exclude)
        slot = self._slots.get(length)
        if slot is None:
            slot = self._slots[length] = _GraphSlot(self, self.buckets.index(length) + 1, length)
        # Pad rows with copies of row 0 (an all-padding row is not a valid history).
        pick = np.minimum(np.arange(self.batch), rows - 1) * (np.arange(self.batch) < rows)
        padded_exclude = np.zeros((self.batch, self.exclude_width), np.int64)
        padded_exclude[:rows, : exclude.shape[1]] = exclude
        slot.values["history"].update_inplace(np.ascontiguousarray(history[pick]))
        slot.values["k"].update_inplace(np.array([self.k], np.int64))
        slot.values["exclude_seen"].update_inplace(np.ascontiguousarray(exclude_seen[pick]))
        slot.values["exclude"].update_inplace(padded_exclude)
        self.session.run_with_iobinding(slot.binding, slot.options)
        scores = slot.values["scores"].numpy()[:rows, :k]
        items = slot.values["items"].numpy()[:rows, :k]
        return scores, items


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
        on_cuda = self.requested_providers[0] == CUDA
        if config.cuda_graphs and not on_cuda:
            logger.info("ort_cuda_graphs applies to the CUDA provider only; ignored")
        self._session, self.cuda_graphs = self._create(str(model_path), options, config, on_cuda)
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
        self._runner: BoundRunner | GraphRunner | None = None  # None: plain session.run
        if self.active_provider == CUDA:
            self._runner = (
                GraphRunner(self._session, config, "cuda")
                if self.cuda_graphs
                else BoundRunner(self._session, "cuda", config.cuda_device_id)
            )

    def _create(
        self, source: str | bytes, options: ort.SessionOptions, config: SessionConfig, cuda: bool
    ) -> tuple[ort.InferenceSession, bool]:
        """The session; with CUDA graphs requested, retried without them if ORT refuses."""
        providers: list[Any] = list(self.requested_providers)
        if cuda:
            cuda_options = {"device_id": str(config.cuda_device_id)}
            if config.cuda_graphs:
                try:
                    graph_providers = [(CUDA, {**cuda_options, "enable_cuda_graph": "1"}), CPU]
                    session = ort.InferenceSession(source, options, providers=graph_providers)
                    return session, True
                except Exception as exc:  # ORT refuses graphs with CPU-placed nodes
                    logger.warning("CUDA graphs unavailable for this graph: %s", exc)
            providers = [(CUDA, cuda_options), CPU]
        return ort.InferenceSession(source, sess_options=options, providers=providers), False

    @property
    def active_provider(self) -> str:
        return self.providers[0]

    def run(
        self, history: np.ndarray, k: int, exclude_seen: np.ndarray, exclude: np.ndarray
    ) -> Outputs:
        """history (B, L) int64, exclude_seen (B,) bool, exclude (B, E) int64 -> (B, k) x2."""
        if self._runner is not None:
            return self._runner.run(history, k, exclude_seen, exclude)
        scores, items = self._session.run(
            list(EXPECTED_OUTPUTS), _feeds(history, k, exclude_seen, exclude)
        )
        return np.asarray(scores), np.asarray(items)


def _feeds(
    history: np.ndarray, k: int, exclude_seen: np.ndarray, exclude: np.ndarray
) -> dict[str, np.ndarray]:
    return {
        "history": history,
        "k": np.array([k], dtype=np.int64),
        "exclude_seen": exclude_seen,
        "exclude": exclude,
    }
