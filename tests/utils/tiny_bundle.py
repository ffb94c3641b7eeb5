"""A real exported bundle of a tiny model: ``make_tiny_checkpoint`` then ``export_bundle``.

A drop-in for ``tests.utils.fake_bundle.make_fake_bundle`` (same leading parameters, same item
ids and popularity), built by the production export path instead of by hand.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from export.bundle import ExportOptions, export_bundle
from export.reference import reference_topk
from tests.utils.tiny_models import make_tiny_checkpoint
from training.checkpoint import load_checkpoint


def make_tiny_bundle(
    path: Path,
    n_items: int = 50,
    max_len: int = 20,
    max_k: int = 20,
    titles: bool = True,
    *,
    variant: str = "paa",
    seed: int = 0,
    hidden: int = 16,
    blocks: int = 1,
    train_steps: int = 3,
    name: str | None = None,
) -> Path:
    """Export a freshly built tiny checkpoint to a verified bundle folder at ``path``.

    The intermediate checkpoint lives in a temporary folder that is removed afterwards; the
    bundle's ``model.version`` is derived from the ONNX file's hash, as in production.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tiny-checkpoint-") as scratch:
        checkpoint = make_tiny_checkpoint(
            Path(scratch) / "checkpoint",
            variant,
            n_items,
            max_len,
            hidden=hidden,
            blocks=blocks,
            seed=seed,
            train_steps=train_steps,
            titles=titles,
            name=name,
        )
        export_bundle(checkpoint, path, ExportOptions(max_k=max_k, name=name))
    return path


SERVICE_BUNDLE = {"n_items": 50, "max_len": 20, "max_k": 20, "hidden": 16, "blocks": 2}


@functools.cache
def tiny_service_checkpoint(seed: int = 0) -> Path:
    """The checkpoint behind the service-test bundles, built once per test session."""
    folder = Path(tempfile.mkdtemp(prefix="paarec-service-ckpt-"))
    return make_tiny_checkpoint(
        folder / "checkpoint",
        "paa",
        SERVICE_BUNDLE["n_items"],
        SERVICE_BUNDLE["max_len"],
        hidden=SERVICE_BUNDLE["hidden"],
        blocks=SERVICE_BUNDLE["blocks"],
        seed=seed,
        train_steps=3,
        titles=True,
    )


@functools.cache
def _exported(seed: int) -> Path:
    bundle = tiny_service_checkpoint(seed).parent / "bundle"
    export_bundle(
        tiny_service_checkpoint(seed), bundle, ExportOptions(max_k=SERVICE_BUNDLE["max_k"])
    )
    return bundle


def export_named_bundle(path: Path, version: str, seed: int = 0) -> Path:
    """A copy of the session's real bundle whose ``model.version`` reads ``version``, so that
    reload tests can assert on readable names; exporting happens once per seed."""
    shutil.copytree(_exported(seed), path)
    meta = json.loads((path / "bundle.json").read_text())
    meta["model"]["version"] = version
    (path / "bundle.json").write_text(json.dumps(meta, indent=2))
    return path


def service_reference_top(
    history: list[int], k: int, exclude_seen: bool = True, exclude: Sequence[int] = ()
) -> list[str]:
    """What the service must answer, from the PyTorch model the bundle was exported from."""
    model = load_checkpoint(tiny_service_checkpoint(0)).model
    row = np.array([history[-SERVICE_BUNDLE["max_len"] :]], dtype=np.int64)
    scores, items = reference_topk(
        model, row, k, np.array([exclude_seen]), np.array([[0, *exclude]], dtype=np.int64)
    )
    return [f"item{i}" for i, s in zip(items[0], scores[0], strict=True) if np.isfinite(s)]
