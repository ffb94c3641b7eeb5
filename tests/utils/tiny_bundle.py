"""A real exported bundle of a tiny model: ``make_tiny_checkpoint`` then ``export_bundle``.

A drop-in for ``tests.utils.fake_bundle.make_fake_bundle`` (same leading parameters, same item
ids and popularity), built by the production export path instead of by hand.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from export.bundle import ExportOptions, export_bundle
from tests.utils.tiny_models import make_tiny_checkpoint


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
