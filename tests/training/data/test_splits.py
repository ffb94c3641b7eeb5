"""Splits on hand-made logs whose expected targets and histories are worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.config import SplitConfig
from training.data import DataError, Interactions, make_split
from training.data.splits import EvalSet

# (user, item, timestamp); 16 events with distinct timestamps, written out of order.
TEMPORAL_LOG = [
    ("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u2", "c", 4),
    ("u3", "b", 5), ("u1", "c", 6), ("u2", "d", 7), ("u5", "a", 8),
    # held out (last 8): validation = ts 9..13, test = ts 14..16
    ("u1", "d", 9), ("u4", "a", 10), ("u2", "x", 11), ("u4", "b", 12),
    ("u3", "x", 13), ("u3", "c", 14), ("u1", "a", 15), ("u2", "b", 16),
]  # fmt: skip


def temporal_log() -> Interactions:
    frame = pd.DataFrame(TEMPORAL_LOG[::-1], columns=["user_id", "item_id", "timestamp"])
    return Interactions.from_frame(frame, source="hand")


def as_lists(histories: list[np.ndarray]) -> list[list[int]]:
    return [h.tolist() for h in histories]


def test_temporal_split_matches_hand_computation() -> None:
    # round(0.6 * 16) = 10 is capped to 8; round(0.625 * 8) = 5 of them are validation.
    split = make_split(temporal_log(), SplitConfig(holdout_fraction=0.6, holdout_cap=8))
    # Training items a(3) b(2) c(2) d(1): frequency order, ties by id.
    assert split.vocab.items.tolist() == ["", "a", "b", "c", "d"]
    assert split.popularity.tolist() == [0, 3, 2, 2, 1]
    assert split.train_users == ["u1", "u2", "u3", "u5"]
    assert as_lists(split.train_sequences) == [[1, 2, 3], [1, 3, 4], [2], [1]]
    # ts 9: u1 d from a b c; ts 10: u4 has no history -> skipped; ts 11, 13: x unseen ->
    # dropped; ts 12: u4 b from its own earlier held-out a.
    assert split.validation.users.tolist() == ["u1", "u4"]
    assert split.validation.targets.tolist() == [4, 2]
    assert as_lists(split.validation.histories) == [[1, 2, 3], [1]]
    # Test histories include validation events (u1's d) and never the unseen x.
    assert split.test.users.tolist() == ["u3", "u1", "u2"]
    assert split.test.targets.tolist() == [3, 1, 2]
    assert as_lists(split.test.histories) == [[2], [1, 2, 3, 4], [1, 3, 4]]
    assert split.protocol == "temporal"


def test_temporal_split_dtypes_and_views() -> None:
    split = make_split(temporal_log(), SplitConfig(holdout_fraction=0.6, holdout_cap=8))
    eval_set: EvalSet = split.test
    assert eval_set.targets.dtype == np.int64
    assert all(h.dtype == np.int64 for h in eval_set.histories)
    assert split.popularity.dtype == np.int64
    # u1's test history and training sequence share one buffer rather than copies.
    assert np.shares_memory(eval_set.histories[1], split.train_sequences[0])
    assert len(eval_set) == 3


def test_temporal_split_breaks_timestamp_ties_by_row() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u", "u", "v", "v"],
            "item_id": ["a", "b", "a", "b"],
            "timestamp": [1, 5, 1, 5],
        }
    )
    split = make_split(
        Interactions.from_frame(frame, source="t"), SplitConfig(holdout_fraction=0.25)
    )
    # n_holdout = 1; rows 1 and 3 tie at t=5, so the later row (v's b) is the held-out one.
    assert len(split.validation) == 1
    assert split.validation.users.tolist() == ["v"]
    assert split.vocab.decode(split.validation.targets).tolist() == ["b"]
    assert len(split.test) == 0


def test_temporal_split_needs_timestamps() -> None:
    frame = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"]})
    with pytest.raises(DataError, match=r"temporal split needs timestamps.*loo"):
        make_split(Interactions.from_frame(frame, source="seq.txt"), SplitConfig())


def test_leave_one_out_matches_hand_computation() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["u1"] * 4 + ["u2"] * 2 + ["u3"] * 3,
            "item_id": ["a", "b", "c", "d", "b", "c", "a", "e", "a"],
        }
    )
    split = make_split(Interactions.from_frame(frame, source="t"), SplitConfig(protocol="loo"))
    # Vocab over all items: a(3) b(2) c(2) d(1) e(1).
    assert split.vocab.items.tolist() == ["", "a", "b", "c", "d", "e"]
    # u2 has only 2 events: training only, no targets.
    assert split.train_users == ["u1", "u2", "u3"]
    assert as_lists(split.train_sequences) == [[1, 2], [2, 3], [1]]
    assert split.popularity.tolist() == [0, 2, 2, 1, 0, 0]
    assert split.validation.users.tolist() == ["u1", "u3"]
    assert split.validation.targets.tolist() == [3, 5]
    assert as_lists(split.validation.histories) == [[1, 2], [1]]
    assert split.test.users.tolist() == ["u1", "u3"]
    assert split.test.targets.tolist() == [4, 1]
    assert as_lists(split.test.histories) == [[1, 2, 3], [1, 5]]
    assert split.protocol == "loo"


def test_leave_one_out_uses_timestamps_when_present() -> None:
    frame = pd.DataFrame(
        {"user_id": ["u"] * 3, "item_id": ["late", "early", "mid"], "timestamp": [30, 10, 20]}
    )
    split = make_split(Interactions.from_frame(frame, source="t"), SplitConfig(protocol="loo"))
    assert split.vocab.decode(split.test.targets).tolist() == ["late"]
    assert split.vocab.decode(split.validation.targets).tolist() == ["mid"]
    assert split.vocab.decode(split.train_sequences[0]).tolist() == ["early"]
