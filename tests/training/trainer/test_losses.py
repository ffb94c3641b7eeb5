"""Full and sampled softmax losses: finite, matching their definitions, targets never negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.trainer.losses import full_softmax_loss, sampled_softmax_loss


def inputs(n_items: int, rows: int = 5, hidden: int = 4) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(n_items)
    weights = torch.randn(n_items + 1, hidden, generator=generator, requires_grad=True)
    states = torch.randn(rows, hidden, generator=generator, requires_grad=True)
    targets = torch.randint(1, n_items + 1, (rows,), generator=generator)
    return states, weights, targets


def test_full_loss_is_the_summed_cross_entropy_over_real_items() -> None:
    states, weights, targets = inputs(n_items=6)
    loss = full_softmax_loss(states, weights, targets)
    logits = states @ weights.T  # (M, N + 1), padding column included here
    expected = -(logits[:, 1:].log_softmax(-1)[torch.arange(5), targets - 1]).sum()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert weights.grad is not None and torch.isfinite(weights.grad).all()
    assert torch.count_nonzero(weights.grad[0]) == 0  # padding is not in the softmax


def test_sampled_loss_matches_its_definition_without_the_row_target_as_negative() -> None:
    states, weights, targets = inputs(n_items=3)  # 40 draws from 3 items hit every target
    loss = sampled_softmax_loss(states, weights, targets, 40, torch.Generator().manual_seed(1))
    negatives = torch.randint(1, 4, (40,), generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(loss)
    expected = torch.zeros(())
    for row in range(len(targets)):
        positive = states[row] @ weights[targets[row]]
        kept = negatives[negatives != targets[row]]
        logits = torch.cat([positive[None], states[row] @ weights[kept].T])
        expected = expected - F.log_softmax(logits, dim=0)[0]
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert states.grad is not None and torch.isfinite(states.grad).all()


def test_sampled_loss_is_zero_when_every_negative_is_the_target() -> None:
    states, weights, targets = inputs(n_items=1)  # the only item is every row's target
    loss = sampled_softmax_loss(states, weights, targets, 8, torch.Generator().manual_seed(0))
    assert loss.item() == 0.0
