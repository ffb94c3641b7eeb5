"""Causal self-attention with an optional positional kernel on the key and value inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.models.positions import PositionalScheme


class CausalSelfAttention(nn.Module):
    """One implementation for every model; the positional scheme supplies the differences.

    PAA mixes the block input along time with ``A_key`` / ``A_val`` before the key and value
    projections (shared by all heads); RoPE rotates per-head queries and keys.
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = dropout

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        return x.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(
        self,
        z: torch.Tensor,
        x: torch.Tensor,
        mask: torch.Tensor,
        kernels: tuple[torch.Tensor | None, torch.Tensor | None],
        scheme: PositionalScheme,
    ) -> torch.Tensor:
        """``z``: normalised queries (B, Lq, d), ``Lq`` is L or 1 (newest position only);
        ``x``: raw block input (B, L, d); ``mask``: boolean (B, 1, Lq, L), True = may attend."""
        key_kernel, value_kernel = kernels
        xk = x if key_kernel is None else torch.matmul(key_kernel, x)  # (L, L) @ (B, L, d)
        xv = x if value_kernel is None else torch.matmul(value_kernel, x)
        q, k, v = self._split(self.query(z)), self._split(self.key(xk)), self._split(self.value(xv))
        q, k = scheme.rotate(q, k)  # (B, nh, Lq, hd), (B, nh, L, hd)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        batch, _, length, _ = attended.shape
        return self.out(attended.transpose(1, 2).reshape(batch, length, -1))  # (B, Lq, d)
