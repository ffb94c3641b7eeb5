"""The sequential recommender shared by every model of the zoo.

``SeqRecModel`` embeds a left-padded item sequence, runs the transformer blocks with the
configured positional scheme, and scores items by a dot product with the (tied) item
embeddings. PAA, SASRec, NoPE and RoPE differ only in ``training.models.positions``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from training.config import ModelSettings
from training.models.block import TransformerBlock
from training.models.kernels import FullKernel, ToeplitzKernel
from training.models.positions import KernelPair, make_scheme


class SeqRecModel(nn.Module):
    def __init__(self, settings: ModelSettings, n_items: int) -> None:
        super().__init__()
        if n_items < 1:
            raise ValueError("a model needs at least one item")
        self.settings = settings
        self.n_items = n_items
        self.item_embedding = nn.Embedding(n_items + 1, settings.hidden, padding_idx=0)
        self.scheme = make_scheme(settings)
        self.input_dropout = nn.Dropout(settings.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(settings.hidden, settings.heads, settings.dropout)
            for _ in range(settings.blocks)
        )
        self.final_norm = nn.LayerNorm(settings.hidden)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, ToeplitzKernel | FullKernel):
                continue  # kernels carry the spec's own initialisation
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.xavier_normal_(module.weight)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    @property
    def item_weights(self) -> torch.Tensor:
        """(N + 1, d) output embeddings, tied with the input table; row 0 is padding."""
        return self.item_embedding.weight

    @staticmethod
    def attention_mask(nonpad: torch.Tensor) -> torch.Tensor:
        """(B, 1, L, L) causal mask that also hides padded keys.

        The diagonal is always allowed so that a padded query row still has one key and the
        softmax never sees an all-masked row (no NaN); those rows are zeroed afterwards.
        """
        positions = torch.arange(nonpad.shape[1], device=nonpad.device)
        causal = positions[:, None] >= positions[None, :]  # (L, L)
        eye = positions[:, None] == positions[None, :]
        return ((causal & nonpad[:, None, :]) | eye).unsqueeze(1)

    def block_kernels(self, length: int) -> list[KernelPair]:
        kernels = self.scheme.kernels(length)
        return kernels or [(None, None)] * len(self.blocks)

    def encode(
        self,
        seq: torch.Tensor,
        newest_only: bool = False,
        kernels: list[KernelPair] | None = None,
    ) -> torch.Tensor:
        """Hidden states after the final LayerNorm.

        ``seq``: (B, L) item indices, left-padded with 0, ``L <= T``. Returns (B, L, d), or
        (B, 1, d) when ``newest_only`` (the last block then computes the newest position only).
        ``kernels`` lets export pass precomputed constant kernels instead of rebuilding them.
        """
        length = seq.shape[1]
        if length > self.settings.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.settings.max_len}")
        nonpad = (seq != 0).unsqueeze(-1).to(self.item_embedding.weight.dtype)  # (B, L, 1)
        mask = self.attention_mask(seq != 0)
        x = self.item_embedding(seq) * math.sqrt(self.settings.hidden)
        x = self.input_dropout(self.scheme.embed(x)) * nonpad
        kernels = kernels if kernels is not None else self.block_kernels(length)
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            newest = newest_only and index == last
            block_mask = mask[:, :, -1:] if newest else mask
            x = block(x, block_mask, nonpad, kernels[index], self.scheme, newest_only=newest)
        return self.final_norm(x)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        return self.encode(seq)

    def score_newest(self, seq: torch.Tensor) -> torch.Tensor:
        """(B, N + 1) scores of every item for the next step after the newest position."""
        hidden = self.encode(seq, newest_only=True)[:, 0]  # (B, d)
        return hidden @ self.item_weights.T
