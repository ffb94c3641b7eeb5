"""Softmax losses over the item catalogue, computed only at non-padded positions.

Both return the *sum* over positions: the caller divides by the global number of positions in
the batch, which makes data-parallel gradients equal to the single-process ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def full_softmax_loss(
    hidden: torch.Tensor, item_weights: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy over every real item (the "SASRec+" setup).

    ``hidden`` (M, d) holds only the non-padded positions, gathered beforehand, so no logits
    are spent on padding; the padding row 0 is left out of the softmax.
    """
    logits = hidden @ item_weights[1:].T  # (M, N)
    return F.cross_entropy(logits.float(), targets - 1, reduction="sum")


def sampled_softmax_loss(
    hidden: torch.Tensor,
    item_weights: torch.Tensor,
    targets: torch.Tensor,
    n_negatives: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Softmax over the target and ``n_negatives`` uniformly drawn items shared by the batch.

    For catalogues too large for a full softmax; a negative that happens to be a row's own
    target is masked so it never counts against it.
    """
    n_items = item_weights.shape[0] - 1
    negatives = torch.randint(1, n_items + 1, (n_negatives,), generator=generator).to(hidden.device)
    positive = (hidden * item_weights[targets]).sum(-1, keepdim=True)  # (M, 1)
    negative = hidden @ item_weights[negatives].T  # (M, n)
    negative = negative.masked_fill(negatives[None, :] == targets[:, None], -torch.inf)
    logits = torch.cat([positive, negative], dim=1).float()
    return F.cross_entropy(logits, torch.zeros_like(targets), reduction="sum")
