"""The PyTorch reference of the serving graph, used to verify every export."""

from __future__ import annotations

import numpy as np
import torch

from training.models import SeqRecModel


@torch.no_grad()
def reference_topk(
    model: SeqRecModel,
    history: np.ndarray,
    k: int,
    exclude_seen: np.ndarray,
    exclude: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """What the graph must return: training-code scores, the same masking, ``torch.topk``."""
    model.eval()
    scores = model.score_newest(torch.from_numpy(history)).float()  # (B, N + 1)
    scores[:, 0] = -torch.inf
    for row in range(len(history)):
        if exclude_seen[row]:
            scores[row, torch.from_numpy(history[row])] = -torch.inf
        scores[row, torch.from_numpy(exclude[row])] = -torch.inf
    values, items = scores.topk(k, dim=1)
    return values.numpy(), items.numpy()
