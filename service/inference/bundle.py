"""Load and validate a bundle folder (see docs/architecture.md); vocabulary lookups."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SUPPORTED_SCHEMA_MAJOR = 1


class BundleError(Exception):
    """The bundle folder is missing, inconsistent or corrupt; the message says why."""


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: metadata, vocabulary, popularity and the path of the ONNX graph."""

    path: Path  # absolute
    meta: dict[str, Any]
    onnx_path: Path
    items: np.ndarray  # (N + 1,) unicode; items[0] == ""
    popularity: np.ndarray  # (N + 1,) int64
    titles: np.ndarray | None  # (N + 1,) unicode or None
    index: dict[str, int] = field(repr=False)
    popular_order: np.ndarray = field(repr=False)  # item indices by descending popularity, no 0

    @property
    def version(self) -> str:
        return str(self.meta["model"]["version"])

    @property
    def name(self) -> str:
        return str(self.meta["model"].get("name", ""))

    @property
    def n_items(self) -> int:
        return int(self.meta["n_items"])

    @property
    def max_len(self) -> int:
        return int(self.meta["model"]["max_len"])

    @property
    def max_k(self) -> int:
        return int(self.meta["max_k"])

    def encode(self, item_ids: Iterable[str]) -> list[int]:
        """External ids to indices, unknown ids skipped, order kept."""
        index = self.index
        return [i for i in (index.get(x, 0) for x in item_ids) if i]

    def item_id(self, idx: int) -> str:
        return str(self.items[idx])

    def title(self, idx: int) -> str | None:
        return None if self.titles is None else str(self.titles[idx])


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_npy(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise BundleError(f"{what} missing: {path.name}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise BundleError(f"{what} unreadable ({path.name}): {exc}") from exc


def _positive_int(meta: dict[str, Any], *keys: str) -> int:
    node: Any = meta
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise BundleError(f"bundle.json lacks {'.'.join(keys)}")
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int) or node < 1:
        raise BundleError(f"bundle.json {'.'.join(keys)} must be a positive integer")
    return node


def load_bundle(path: Path) -> Bundle:
    """Read and check every bundle file; raises BundleError naming the first problem."""
    try:
        # Absolute, so other workers can load it; symlinks kept, so that a `current` link
        # recorded by a reload still means the newest bundle when a worker restarts.
        path = Path(path).absolute()
        found = path.is_dir()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte: not a usable path
        raise BundleError(f"bundle folder path is not usable: {exc.__class__.__name__}") from exc
    if not found:
        raise BundleError(f"bundle folder not found: {path}")
    meta_path = path / "bundle.json"
    if not meta_path.is_file():
        raise BundleError("bundle.json missing")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise BundleError(f"bundle.json unreadable: {exc}") from exc
    if not isinstance(meta, dict):
        raise BundleError("bundle.json must hold an object")
    major = str(meta.get("schema_version", "")).split(".")[0]
    if major != str(SUPPORTED_SCHEMA_MAJOR):
        raise BundleError(f"unsupported schema_version {meta.get('schema_version')!r}")
    n_items = _positive_int(meta, "n_items")
    _positive_int(meta, "max_k")
    _positive_int(meta, "model", "max_len")
    if "version" not in meta["model"]:
        raise BundleError("bundle.json lacks model.version")
    onnx_meta = meta.get("onnx")
    if not isinstance(onnx_meta, dict) or not {"file", "sha256"} <= onnx_meta.keys():
        raise BundleError("bundle.json lacks onnx.file / onnx.sha256")
    onnx_path = path / str(onnx_meta["file"])
    if onnx_path.resolve().parent != path.resolve() or not onnx_path.is_file():
        raise BundleError(f"onnx file missing: {onnx_meta['file']}")
    actual = sha256_file(onnx_path)
    if actual != str(onnx_meta["sha256"]).lower():
        raise BundleError(
            f"sha256 mismatch for {onnx_path.name}: bundle.json says "
            f"{onnx_meta['sha256']}, file is {actual}"
        )

    items = _load_npy(path / "items.npy", "items.npy")
    if items.dtype.kind != "U" or items.shape != (n_items + 1,) or items[0] != "":
        raise BundleError(
            f"items.npy must be a unicode array of length {n_items + 1} with '' at index 0"
        )
    popularity = _load_npy(path / "popularity.npy", "popularity.npy")
    if popularity.dtype != np.int64 or popularity.shape != (n_items + 1,):
        raise BundleError(f"popularity.npy must be int64 of length {n_items + 1}")
    titles = None
    if meta.get("has_titles"):
        titles = _load_npy(path / "titles.npy", "titles.npy")
        if titles.dtype.kind != "U" or titles.shape != (n_items + 1,):
            raise BundleError(f"titles.npy must be a unicode array of length {n_items + 1}")

    index = {str(x): i for i, x in enumerate(items.tolist()) if i}
    if len(index) != n_items:
        raise BundleError("items.npy holds duplicate or empty item ids")
    # Stable sort so equal counts keep vocabulary order: deterministic fallback lists.
    order = np.argsort(-popularity[1:], kind="stable") + 1
    return Bundle(path, meta, onnx_path, items, popularity, titles, index, order.astype(np.int64))
