"""Early stopping on a validation metric, keeping a real copy of the best weights."""

from __future__ import annotations

import torch
from torch import nn


class EarlyStopping:
    """Tracks the best score and snapshots the weights of that epoch.

    The snapshot clones every tensor: ``state_dict().copy()`` is a shallow copy whose tensors
    keep changing with training, which silently "restores" the last epoch instead of the best.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_score = -float("inf")
        self.best_epoch = 0
        self.bad_epochs = 0
        self._best_state: dict[str, torch.Tensor] | None = None

    def update(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record an epoch; returns True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, epoch, 0
            self._best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self._best_state is not None:
            model.load_state_dict(self._best_state)
