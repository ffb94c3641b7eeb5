"""RankingAccumulator on a hand-computed example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluation import RankingAccumulator

# Four targets at 0-based ranks 0, 1, 4 and 7 in a catalogue of 8 items, with their top-3.
RANKS = np.array([0, 1, 4, 7])
TOP_ITEMS = np.array([[7, 6, 5], [6, 5, 4], [7, 6, 5], [7, 5, 4]])
EXPECTED = {
    # K = 1: only the rank-0 target is a hit
    "hr@1": 1 / 4,
    "ndcg@1": 1 / 4,
    "mrr@1": 1 / 4,
    "cov@1": 2 / 8,  # top-1 items {7, 6}
    # K = 3: ranks 0 and 1 hit; NDCG 1/log2(rank + 2), MRR 1/(rank + 1)
    "hr@3": 2 / 4,
    "ndcg@3": (1 + 1 / math.log2(3)) / 4,
    "mrr@3": (1 + 1 / 2) / 4,
    "cov@3": 4 / 8,  # top-3 items {4, 5, 6, 7}
}


def test_every_metric_matches_the_hand_computation() -> None:
    accumulator = RankingAccumulator(ks=[1, 3], n_items=8)
    accumulator.add(RANKS, TOP_ITEMS)
    assert accumulator.result() == pytest.approx(EXPECTED, abs=1e-12)


def test_results_do_not_depend_on_how_targets_are_batched() -> None:
    accumulator = RankingAccumulator(ks=[1, 3], n_items=8)
    for start in range(0, len(RANKS), 3):
        accumulator.add(RANKS[start : start + 3], TOP_ITEMS[start : start + 3])
    assert accumulator.result() == pytest.approx(EXPECTED, abs=1e-12)


def test_padding_is_never_counted_as_covered() -> None:
    accumulator = RankingAccumulator(ks=[2], n_items=4)
    accumulator.add(np.array([0]), np.array([[3, 0]]))
    assert accumulator.result()["cov@2"] == 1 / 4


def test_an_empty_evaluation_set_is_an_error() -> None:
    with pytest.raises(ValueError, match="no evaluation targets"):
        RankingAccumulator(ks=[10], n_items=5).result()
