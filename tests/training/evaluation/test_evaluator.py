"""``evaluate``: full ranking with seen items masked, on models whose ranking is known."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.evaluation.test_metrics import EXPECTED
from tests.utils.synthetic_data import eval_set
from tests.utils.tiny_models import ALL_VARIANTS, fixed_score_model, nudge_training, tiny_model
from training.evaluation import evaluate

# Item i scores i: item 8 is the best, and every history below contains it.
SCORES = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
HISTORIES = [
    [8, 1],  # target 7: ranks 7 6 5 4 3 2 -> rank 0
    [2, 8, 7],  # target 5: ranks 6 5 4 3 1 -> rank 1
    [8, 1, 2, 1, 2, 1, 2, 1, 2, 1],  # longer than max_len; target 3 at rank 4 (miss at K<=3)
    [6, 8],  # target 6 is in the history: a miss
]
TARGETS = [7, 5, 3, 6]


def test_every_metric_matches_the_hand_computed_ranking() -> None:
    model = fixed_score_model(SCORES, max_len=8)
    metrics = evaluate(model, eval_set(HISTORIES, TARGETS), ks=[1, 3], batch_size=2)
    # Same ranks and top-3 lists as the accumulator's hand-computed example.
    assert metrics == pytest.approx(EXPECTED, abs=1e-6)


def test_an_item_in_the_history_is_never_counted_as_recommended() -> None:
    # The two best items are in every history (item 8 only beyond the model's window).
    model = fixed_score_model(SCORES, max_len=4)
    histories = [[8, 1, 2, 3, 7], [7, 8], [8, 5, 7]]
    metrics = evaluate(model, eval_set(histories, [6, 6, 6]), ks=[1], batch_size=256)
    assert metrics["cov@1"] == 1 / 8  # only item 6 is ever first
    assert metrics["hr@1"] == 1.0


def test_a_target_in_the_history_counts_as_a_miss() -> None:
    model = fixed_score_model(SCORES)
    metrics = evaluate(model, eval_set([[8, 1], [3, 7]], [8, 7]), ks=[1, 3], batch_size=256)
    assert metrics["hr@3"] == 0.0 and metrics["ndcg@3"] == 0.0 and metrics["mrr@3"] == 0.0


def test_a_target_in_the_history_is_a_miss_even_when_k_exceeds_the_unseen_items() -> None:
    model = fixed_score_model([1.0, 2.0, 3.0, 4.0])
    metrics = evaluate(model, eval_set([[1, 2]], [2]), ks=[10], batch_size=256)
    assert metrics["hr@10"] == 0.0


def test_seen_items_are_not_covered_even_when_k_exceeds_the_unseen_items() -> None:
    model = fixed_score_model([1.0, 2.0, 3.0, 4.0])
    metrics = evaluate(model, eval_set([[3, 4]], [1]), ks=[10], batch_size=256)
    assert metrics["cov@10"] == 2 / 4  # only items 1 and 2 can be recommended


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_metrics_are_identical_for_eval_batch_sizes_1_3_and_256(variant: str) -> None:
    model = tiny_model(variant, 30, seed=2, max_len=8, blocks=2)
    nudge_training(model, steps=2, seed=2)
    rng = np.random.default_rng(0)
    histories = [rng.integers(1, 31, size=int(rng.integers(1, 13))).tolist() for _ in range(20)]
    targets = rng.integers(1, 31, size=20).tolist()
    cases = eval_set(histories, targets)
    results = [evaluate(model, cases, ks=[1, 5, 10], batch_size=size) for size in (1, 3, 256)]
    assert results[0] == results[1] == results[2]
    assert set(results[0]) == {f"{m}@{k}" for m in ("cov", "hr", "mrr", "ndcg") for k in (1, 5, 10)}


def test_evaluation_leaves_the_training_mode_as_it_found_it() -> None:
    model = fixed_score_model(SCORES).train()
    evaluate(model, eval_set([[1]], [2]), ks=[1])
    assert model.training
