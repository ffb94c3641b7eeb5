"""Positional schemes: the one place where PAA, SASRec, NoPE and RoPE differ.

The transformer calls three hooks and is otherwise identical for every model of the zoo:

- ``embed``: add absolute positions to the input (SASRec only);
- ``kernels``: the (key, value) mixing matrices for a given length, per block (PAA only);
- ``rotate``: rotary embedding of per-head queries and keys (RoPE only).

Positions are indexed so that the newest item is ``T - 1`` whatever the actual length ``L``,
which keeps a history evaluated at its true length identical to the same history padded to T.
"""

from __future__ import annotations

import torch
from torch import nn

from training.config import ModelSettings
from training.models.kernels import Kernel, make_kernel

KernelPair = tuple[torch.Tensor | None, torch.Tensor | None]


class PositionalScheme(nn.Module):
    """No positional information beyond the causal mask (NoPE); the base of the others."""

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def kernels(self, length: int) -> list[KernelPair]:
        """Per block ``(A_key, A_val)`` corners of shape ``(L, L)``, or ``None`` for identity."""
        return []

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return q, k


class AbsolutePositions(PositionalScheme):
    """SASRec: a learned embedding per position, added at the input."""

    def __init__(self, max_len: int, hidden: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, hidden)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        return x + self.embedding.weight[self.max_len - length :]  # (B, L, d) + (L, d)


class RotaryPositions(PositionalScheme):
    """RoPE on per-head queries and keys (rotate-half convention)."""

    cos: torch.Tensor
    sin: torch.Tensor

    def __init__(self, max_len: int, head_dim: int, base: float) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head size, got {head_dim}")
        self.max_len = max_len
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        angles = torch.outer(torch.arange(max_len).float(), inv_freq)  # (T, hd/2)
        angles = torch.cat([angles, angles], dim=-1)  # (T, hd)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    @staticmethod
    def _rotate_half(x: torch.Tensor) -> torch.Tensor:
        first, second = x.chunk(2, dim=-1)
        return torch.cat([-second, first], dim=-1)

    def _rotate_tensor(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-2]  # (B, nh, L, hd); a single query is the newest position
        cos = self.cos[self.max_len - length :]
        sin = self.sin[self.max_len - length :]
        return x * cos + self._rotate_half(x) * sin

    def rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._rotate_tensor(q), self._rotate_tensor(k)


class PositionAwareKernels(PositionalScheme):
    """PAA: key-side and value-side kernels, each shared by all blocks or one per block."""

    def __init__(self, settings: ModelSettings) -> None:
        super().__init__()
        self.blocks = settings.blocks
        self.key_kernels = self._bank(settings.key_kernel, settings.key_sharing, settings, True)
        self.value_kernels = self._bank(
            settings.value_kernel, settings.value_sharing, settings, False
        )

    @staticmethod
    def _bank(kind: str, sharing: str, settings: ModelSettings, key_side: bool) -> nn.ModuleList:
        count = 1 if sharing == "shared" else settings.blocks
        return nn.ModuleList(make_kernel(kind, settings.max_len, key_side) for _ in range(count))

    def _per_block(self, bank: nn.ModuleList, length: int) -> list[torch.Tensor]:
        kernels: list[Kernel] = list(bank)  # type: ignore[arg-type]
        corners = [kernel.matrix()[-length:, -length:] for kernel in kernels]  # (L, L) each
        return corners * self.blocks if len(corners) == 1 else corners

    def kernels(self, length: int) -> list[KernelPair]:
        keys = self._per_block(self.key_kernels, length)
        values = self._per_block(self.value_kernels, length)
        return list(zip(keys, values, strict=True))

    def named_kernels(self) -> dict[str, Kernel]:
        """Kernels by a readable name (``key.0``, ``value.shared`` ...), for plots and export."""
        named: dict[str, Kernel] = {}
        for side, bank in (("key", self.key_kernels), ("value", self.value_kernels)):
            for index, kernel in enumerate(bank):
                suffix = "shared" if len(bank) == 1 and self.blocks > 1 else str(index)
                named[f"{side}.{suffix}"] = kernel  # type: ignore[assignment]
        return named


def make_scheme(settings: ModelSettings) -> PositionalScheme:
    if settings.arch == "paa":
        return PositionAwareKernels(settings)
    if settings.arch == "sasrec":
        return AbsolutePositions(settings.max_len, settings.hidden)
    if settings.arch == "rope":
        return RotaryPositions(
            settings.max_len, settings.hidden // settings.heads, settings.rope_base
        )
    return PositionalScheme()
