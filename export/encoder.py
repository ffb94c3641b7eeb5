"""The serving-time encoder: a trained model with its positional kernels baked in as constants.

At export the kernels are fixed matrices, so they are computed once from the trained
parameters and stored; nothing of the Toeplitz construction, the normalisation or dropout is
left in the graph. A history of length ``L`` slices the bottom-right ``L x L`` corner of each
constant, and only the newest position is computed in the last block.
"""

from __future__ import annotations

import torch
from torch import nn

from training.models import SeqRecModel


class ServingEncoder(nn.Module):
    def __init__(self, model: SeqRecModel, newest_only: bool = True) -> None:
        super().__init__()
        self.model = model.eval()
        self.newest_only = newest_only
        with torch.no_grad():
            kernels = model.block_kernels(model.settings.max_len)
        # A kernel shared by several blocks is stored once: (block, side) -> constant name.
        self._slots: list[tuple[str | None, str | None]] = []
        stored: dict[int, str] = {}
        for block, pair in enumerate(kernels):
            names: list[str | None] = []
            for side, kernel in zip(("key", "value"), pair, strict=True):
                if kernel is None:
                    names.append(None)
                    continue
                if id(kernel) not in stored:
                    stored[id(kernel)] = f"kernel_{side}_{block}"
                    self.register_buffer(stored[id(kernel)], kernel.detach().clone())
                names.append(stored[id(kernel)])
            self._slots.append((names[0], names[1]))

    def _kernels(self, length: int) -> list[tuple[torch.Tensor | None, torch.Tensor | None]]:
        corners: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []
        for key_name, value_name in self._slots:
            key = getattr(self, key_name)[-length:, -length:] if key_name else None
            value = getattr(self, value_name)[-length:, -length:] if value_name else None
            corners.append((key, value))
        return corners

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        """(B, L) left-padded item indices -> (B, N + 1) scores for the next item."""
        kernels = self._kernels(history.shape[1])
        hidden = self.model.encode(history, newest_only=self.newest_only, kernels=kernels)
        return hidden[:, -1] @ self.model.item_weights.T
