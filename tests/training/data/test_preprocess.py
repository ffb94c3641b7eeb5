"""Preprocessing: de-duplication, iterative k-core, minimum sequence length."""

from __future__ import annotations

import pandas as pd

from training.config import DataConfig
from training.data import Interactions, drop_duplicates, k_core, min_sequence_length, preprocess


def log(rows: list[tuple[str, str, int]], timestamps: bool = True) -> Interactions:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])
    return Interactions.from_frame(
        frame if timestamps else frame.drop(columns="timestamp"), source="t"
    )


def pairs(interactions: Interactions) -> list[tuple[str, str]]:
    return list(zip(interactions.frame["user_id"], interactions.frame["item_id"], strict=True))


def test_drop_duplicates_with_timestamps_keeps_first() -> None:
    got = drop_duplicates(log([("u", "a", 1), ("u", "a", 1), ("u", "a", 2), ("v", "a", 1)]))
    assert got.frame["timestamp"].tolist() == [1, 2, 1]
    assert got.frame["row"].tolist() == [0, 2, 3]


def test_drop_duplicates_without_timestamps_keeps_everything() -> None:
    data = log([("u", "a", 1), ("u", "a", 1)], timestamps=False)
    assert len(drop_duplicates(data)) == 2


def test_k_core_is_iterative() -> None:
    # Item c has 1 interaction; dropping it leaves user v with 1, which then drops item b to 1.
    rows = [("u", "a", 1), ("u", "b", 2), ("v", "b", 1), ("v", "c", 2)]
    rows += [("w", "a", 1), ("w", "d", 2), ("x", "a", 1), ("x", "d", 2)]
    data = log(rows)
    got = k_core(data, min_user=2, min_item=2)
    assert sorted(pairs(got)) == [("w", "a"), ("w", "d"), ("x", "a"), ("x", "d")]
    assert got.frame.index.tolist() == [0, 1, 2, 3]


def test_k_core_may_empty_the_log() -> None:
    assert len(k_core(log([("u", "a", 1), ("v", "b", 1)]), 2, 2)) == 0


def test_min_sequence_length_drops_short_users_only() -> None:
    data = log([("u", "a", 1), ("u", "b", 2), ("v", "a", 1)])
    assert pairs(min_sequence_length(data, 2)) == [("u", "a"), ("u", "b")]
    assert min_sequence_length(data, 0) is data


def test_preprocess_runs_configured_steps() -> None:
    data = log([("u", "a", 1), ("u", "a", 1), ("u", "b", 2), ("v", "a", 1), ("v", "b", 2)])
    got = preprocess(data, DataConfig(min_item_interactions=2, min_user_interactions=2))
    assert pairs(got) == [("u", "a"), ("u", "b"), ("v", "a"), ("v", "b")]
    kept = preprocess(data, DataConfig(drop_duplicates=False))
    assert len(kept) == 5
