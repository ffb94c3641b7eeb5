"""The training objective as a module, so DistributedDataParallel sees one forward pass."""

from __future__ import annotations

import torch
from torch import nn

from training.config import TrainSettings
from training.models import SeqRecModel
from training.trainer.losses import full_softmax_loss, sampled_softmax_loss


class NextItemObjective(nn.Module):
    def __init__(self, model: SeqRecModel, settings: TrainSettings) -> None:
        super().__init__()
        self.model = model
        self.settings = settings
        self.generator = torch.Generator().manual_seed(settings.seed)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed loss over the non-padded positions of ``inputs`` (B, L)."""
        hidden = self.model.encode(inputs)  # (B, L, d)
        real = targets != 0
        hidden, targets = hidden[real], targets[real]  # (M, d), (M,): logits only where needed
        weights = self.model.item_weights
        if self.settings.loss == "sampled":
            return sampled_softmax_loss(
                hidden, weights, targets, self.settings.n_negatives, self.generator
            )
        return full_softmax_loss(hidden, weights, targets)
