"""Item vocabulary: external item ids <-> indices ``1..N`` with 0 reserved for padding.

Stored as ``items.npy``, a unicode array whose entry 0 is ``""``, so the checkpoint, the
ONNX bundle and the service share one file that loads without pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ITEMS_FILE = "items.npy"


class ItemVocab:
    """Bidirectional map between external item ids (``str``) and indices ``1..N``."""

    def __init__(self, items: np.ndarray) -> None:
        """Wrap ``items`` (length ``N + 1``, entry 0 ``""``, the rest unique non-empty ids)."""
        items = np.asarray(items, dtype=str)
        if items.ndim != 1 or len(items) == 0 or items[0] != "":
            raise ValueError("items must be a 1-d array whose entry 0 is the padding id ''")
        # A pandas Index gives a hashed, vectorised lookup: encoding a million ids is one call.
        index = pd.Index(items[1:].astype(object))
        if not index.is_unique:
            raise ValueError("item ids must be unique")
        if len(items) > 1 and (items[1:] == "").any():
            raise ValueError("the empty string is reserved for padding")
        self.items = items
        self._index = index

    @classmethod
    def from_ids(cls, ids: Sequence[str] | np.ndarray | pd.Series) -> ItemVocab:
        """Vocabulary of the distinct ``ids``, most frequent first, ties by id.

        Frequency order puts popular items at low indices (handy when inspecting), and the
        id tie-break makes the result independent of input order, so runs are reproducible.
        """
        counts = pd.Series(np.asarray(ids, dtype=object)).value_counts(sort=False)
        keys = counts.index.to_numpy(dtype=str)
        order = np.lexsort((keys, -counts.to_numpy()))
        return cls(np.concatenate([np.array([""]), keys[order]]))

    def encode(self, ids: Sequence[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Indices (int64) of ``ids``; unknown ids map to 0 (padding)."""
        positions = self._index.get_indexer(np.asarray(ids, dtype=object))
        return (positions + 1).astype(np.int64)  # -1 (unknown) becomes 0

    def decode(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """External ids of ``indices`` (0 decodes to ``""``)."""
        return self.items[np.asarray(indices, dtype=np.int64)]

    def __len__(self) -> int:
        """``N``, the number of real items (padding not counted)."""
        return len(self.items) - 1

    def save(self, directory: str | Path) -> Path:
        """Write ``items.npy`` into ``directory`` (created if needed); returns the file."""
        path = Path(directory) / ITEMS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, self.items, allow_pickle=False)
        return path

    @classmethod
    def load(cls, directory: str | Path) -> ItemVocab:
        """Read ``items.npy`` from ``directory`` (no pickle)."""
        return cls(np.load(Path(directory) / ITEMS_FILE, allow_pickle=False))
