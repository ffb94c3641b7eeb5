"""Exported bundles of every variant, built once per session (an export takes a few seconds)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest

from export.bundle import ExportOptions, ExportResult, export_bundle
from tests.utils.tiny_models import make_tiny_checkpoint
from tests.utils.torch_threads import single_threaded_torch
from training.checkpoint import load_checkpoint
from training.models import SeqRecModel

N_ITEMS = 30
MAX_LEN = 8
MAX_K = 10
BLOCKS = 2


@dataclass(frozen=True)
class Exported:
    variant: str
    checkpoint: Path
    bundle: Path
    result: ExportResult
    model: SeqRecModel  # the checkpoint's model, reloaded: the reference for parity
    graph: onnx.ModelProto
    session: ort.InferenceSession


ExportedFactory = Callable[[str], Exported]


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_torch() -> Iterator[None]:
    with single_threaded_torch():
        yield


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> ExportedFactory:
    """``exported(variant)``: a briefly trained tiny checkpoint of ``variant`` and its bundle."""
    cache: dict[str, Exported] = {}

    def build(variant: str) -> Exported:
        if variant not in cache:
            root = tmp_path_factory.mktemp(f"export-{variant}")
            checkpoint = make_tiny_checkpoint(
                root / "checkpoint",
                variant,
                N_ITEMS,
                MAX_LEN,
                blocks=BLOCKS,
                train_steps=3,
                titles=True,
            )
            result = export_bundle(checkpoint, root / "bundle", ExportOptions(max_k=MAX_K))
            onnx_path = result.bundle_dir / "model.onnx"
            cache[variant] = Exported(
                variant=variant,
                checkpoint=checkpoint,
                bundle=result.bundle_dir,
                result=result,
                model=load_checkpoint(checkpoint).model,
                graph=onnx.load(str(onnx_path)),
                session=ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]),
            )
        return cache[variant]

    return build
