"""Every variant: key-padding equivalence, no NaNs, causality, newest-only and baked kernels."""

from __future__ import annotations

import pytest
import torch

from tests.training.models.conftest import MAX_LEN, N_ITEMS
from tests.utils.tiny_models import random_histories
from training.models import SeqRecModel

ATOL = 1e-5


def left_pad(history: torch.Tensor, length: int) -> torch.Tensor:
    """(B, l) -> (B, length) with zeros on the left."""
    pad = torch.zeros(history.shape[0], length - history.shape[1], dtype=history.dtype)
    return torch.cat([pad, history], dim=1)


@pytest.mark.parametrize("length", [1, 4, MAX_LEN - 1])
@torch.no_grad()
def test_history_at_true_length_scores_like_the_same_history_left_padded(
    model: SeqRecModel, length: int
) -> None:
    history = random_histories(N_ITEMS, batch=3, length=length, seed=length, min_length=length)
    padded = left_pad(history, MAX_LEN)
    short_scores, padded_scores = model.score_newest(history), model.score_newest(padded)
    assert short_scores.shape == (3, N_ITEMS + 1)
    torch.testing.assert_close(short_scores, padded_scores, atol=ATOL, rtol=0)
    # Every real position, not only the newest, sees exactly the same thing.
    torch.testing.assert_close(
        model.encode(history), model.encode(padded)[:, -length:], atol=ATOL, rtol=0
    )


@torch.no_grad()
def test_rows_of_a_mixed_length_batch_score_like_each_row_alone(model: SeqRecModel) -> None:
    batch = random_histories(N_ITEMS, batch=6, length=MAX_LEN, seed=3)
    together = model.score_newest(batch)
    for row in range(len(batch)):
        true_length = int((batch[row] != 0).sum())
        alone = model.score_newest(batch[row : row + 1, MAX_LEN - true_length :])
        torch.testing.assert_close(together[row : row + 1], alone, atol=ATOL, rtol=0)


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train-with-dropout"])
def test_no_nans_anywhere_including_all_padding_rows(model: SeqRecModel, training: bool) -> None:
    torch.manual_seed(0)
    model.train(training)
    batch = random_histories(N_ITEMS, batch=4, length=MAX_LEN, seed=5)
    batch[0] = 0  # a row that is padding only
    batch[1, :-1] = 0  # a single real item
    hidden = model.encode(batch)
    scores = model.score_newest(batch)
    assert torch.isfinite(hidden).all()
    assert torch.isfinite(scores).all()
    (hidden.square().mean() + scores.square().mean()).backward()
    for name, parameter in model.named_parameters():
        if parameter.grad is not None:
            assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("position", [0, 3, MAX_LEN - 2])
@torch.no_grad()
def test_output_at_a_position_ignores_every_later_item(model: SeqRecModel, position: int) -> None:
    seq = random_histories(N_ITEMS, batch=2, length=MAX_LEN, seed=7, min_length=MAX_LEN)
    changed = seq.clone()
    generator = torch.Generator().manual_seed(position)
    changed[:, position + 1 :] = torch.randint(
        1, N_ITEMS + 1, changed[:, position + 1 :].shape, generator=generator
    )
    assert not torch.equal(seq, changed)
    before, after = model.encode(seq), model.encode(changed)
    torch.testing.assert_close(
        before[:, : position + 1], after[:, : position + 1], atol=ATOL, rtol=0
    )
    assert not torch.allclose(before[:, -1], after[:, -1], atol=ATOL)  # the change is visible


@pytest.mark.parametrize("length", [1, 5, MAX_LEN])
@torch.no_grad()
def test_newest_only_encode_equals_the_last_row_of_the_full_encode(
    model: SeqRecModel, length: int
) -> None:
    batch = random_histories(N_ITEMS, batch=4, length=length, seed=11)
    newest = model.encode(batch, newest_only=True)
    assert newest.shape == (4, 1, model.settings.hidden)
    torch.testing.assert_close(newest, model.encode(batch)[:, -1:], atol=ATOL, rtol=0)


@pytest.mark.parametrize("length", [2, MAX_LEN])
@torch.no_grad()
def test_precomputed_kernels_give_the_default_encoding(model: SeqRecModel, length: int) -> None:
    batch = random_histories(N_ITEMS, batch=3, length=length, seed=13)
    baked = [
        tuple(None if k is None else k.detach().clone() for k in pair)
        for pair in model.block_kernels(length)
    ]
    default = model.encode(batch)
    assert torch.equal(model.encode(batch, kernels=baked), default)  # type: ignore[arg-type]
    assert torch.equal(
        model.encode(batch, newest_only=True, kernels=baked),  # type: ignore[arg-type]
        model.encode(batch, newest_only=True),
    )


def test_a_sequence_longer_than_max_len_is_refused(model: SeqRecModel) -> None:
    with pytest.raises(ValueError, match="exceeds max_len"):
        model.encode(torch.ones(1, MAX_LEN + 1, dtype=torch.long))
