"""Learnable position-to-position kernels of position-aware attention (PAA).

A kernel is a lower-triangular ``T x T`` matrix that mixes a block's input along time before
keys or values are formed. Both parametrisations build the full normalised matrix; a history of
length ``L < T`` uses its bottom-right ``L x L`` corner, which is exactly what left padding to
``T`` would see.
"""

from __future__ import annotations

import torch
from torch import nn


class ToeplitzKernel(nn.Module):
    """``A[t, s] = ĝ[t - s]`` for ``s <= t``: a causal convolution as long as the sequence.

    On the key side ``g[0]`` is fixed to 1 (the spec's "frozen" tap), which anchors the scale of
    the normalised profile; on the value side every tap is learned.
    """

    head: torch.Tensor
    distance: torch.Tensor
    causal: torch.Tensor

    def __init__(self, max_len: int, freeze_first: bool) -> None:
        super().__init__()
        self.max_len = max_len
        self.freeze_first = freeze_first
        tail = torch.randn(max_len - 1).mul_(0.02).abs_()
        if freeze_first:
            self.register_buffer("head", torch.ones(1))
            self.g = nn.Parameter(tail)
        else:
            self.g = nn.Parameter(torch.cat([torch.ones(1), tail]))
        # (T, T) distance t - s, clamped so the gather stays in range; masked to causal below.
        pos = torch.arange(max_len)
        self.register_buffer(
            "distance", (pos[:, None] - pos[None, :]).clamp_(min=0), persistent=False
        )
        self.register_buffer("causal", torch.ones(max_len, max_len).tril_(), persistent=False)

    def profile(self) -> torch.Tensor:
        """The normalised taps ``ĝ`` (length T): the weight of an item ``t - s`` steps back."""
        g = torch.cat([self.head, self.g]) if self.freeze_first else self.g
        return g / g.norm()

    def matrix(self) -> torch.Tensor:
        return self.profile()[self.distance] * self.causal  # (T, T)


class FullKernel(nn.Module):
    """A free lower-triangular matrix, Frobenius-normalised.

    Because sequences are left-padded, row ``t`` is "t steps from the newest item", so the matrix
    encodes position measured from the most recent interaction.
    """

    def __init__(self, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        below = torch.randn(max_len, max_len).mul_(0.02).abs_().tril_(-1)
        self.weight = nn.Parameter(torch.eye(max_len) + below)

    def matrix(self) -> torch.Tensor:
        lower = self.weight.tril()
        return lower / lower.norm()  # (T, T)


Kernel = ToeplitzKernel | FullKernel


def make_kernel(kind: str, max_len: int, key_side: bool) -> Kernel:
    if kind == "toeplitz":
        return ToeplitzKernel(max_len, freeze_first=key_side)
    if kind == "full":
        return FullKernel(max_len)
    raise ValueError(f"unknown kernel kind {kind!r}; expected 'toeplitz' or 'full'")
