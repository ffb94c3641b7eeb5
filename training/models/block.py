"""One transformer block in the SASRec layout (pre-norm queries, post-norm FFN)."""

from __future__ import annotations

import torch
from torch import nn

from training.models.attention import CausalSelfAttention
from training.models.positions import PositionalScheme


class FeedForward(nn.Module):
    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(hidden)
        self.attention = CausalSelfAttention(hidden, heads, dropout)
        self.ffn_norm = nn.LayerNorm(hidden)
        self.ffn = FeedForward(hidden, dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        nonpad: torch.Tensor,
        kernels: tuple[torch.Tensor | None, torch.Tensor | None],
        scheme: PositionalScheme,
        newest_only: bool = False,
    ) -> torch.Tensor:
        """``x`` (B, L, d) -> (B, L, d), or (B, 1, d) for the newest position when
        ``newest_only`` (serving: the last block needs no other position)."""
        z = self.attention_norm(x[:, -1:] if newest_only else x)
        h = z + self.attention(z, x, mask, kernels, scheme)
        y = self.ffn_norm(h)
        keep = nonpad[:, -1:] if newest_only else nonpad
        return (y + self.ffn(y)) * keep  # padding rows stay exactly zero
