"""ItemVocab: deterministic order, encode/decode, save/load without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from training.data import ItemVocab


def test_from_ids_orders_by_frequency_then_id() -> None:
    vocab = ItemVocab.from_ids(["b", "c", "a", "c", "b", "d", "c"])
    assert vocab.items.tolist() == ["", "c", "b", "a", "d"]
    assert len(vocab) == 4
    assert (
        ItemVocab.from_ids(["d", "a", "b", "c", "c", "b", "c"]).items.tolist()
        == vocab.items.tolist()
    )


def test_encode_unknown_is_padding_and_decode_inverts() -> None:
    vocab = ItemVocab.from_ids(np.array(["x", "y", "y"]))
    codes = vocab.encode(["y", "nope", "x"])
    assert codes.dtype == np.int64
    assert codes.tolist() == [1, 0, 2]
    assert vocab.decode(codes).tolist() == ["y", "", "x"]


def test_save_load_round_trip_without_pickle(tmp_path: Path) -> None:
    vocab = ItemVocab.from_ids([f"item-{i % 7}" for i in range(50)] + ["é"])
    path = vocab.save(tmp_path / "ckpt")
    assert path.name == "items.npy"
    raw = np.load(path, allow_pickle=False)
    assert raw.dtype.kind == "U"
    assert raw[0] == ""
    loaded = ItemVocab.load(tmp_path / "ckpt")
    assert np.array_equal(loaded.items, vocab.items)
    assert loaded.encode(["é", "item-3"]).tolist() == vocab.encode(["é", "item-3"]).tolist()


def test_invalid_items_are_refused() -> None:
    with pytest.raises(ValueError, match="entry 0"):
        ItemVocab(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="unique"):
        ItemVocab(np.array(["", "a", "a"]))
