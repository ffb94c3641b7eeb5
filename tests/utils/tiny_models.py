"""Tiny, seeded models and checkpoints of every variant of the zoo, for fast CPU tests.

``make_tiny_checkpoint`` writes a real checkpoint folder (the one ``training.checkpoint``
reads and ``export`` turns into a bundle), so other suites can build a genuine exported
bundle from it in a couple of seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.checkpoint import Checkpoint, save_checkpoint
from training.config import ModelSettings, RunConfig
from training.data.vocab import ItemVocab
from training.models import VARIANTS, SeqRecModel, variant_settings

ALL_VARIANTS: tuple[str, ...] = tuple(VARIANTS)
PAA_VARIANTS: tuple[str, ...] = tuple(
    name for name, fields in VARIANTS.items() if fields["arch"] == "paa"
)


def tiny_settings(
    variant: str = "paa",
    *,
    max_len: int = 8,
    hidden: int = 16,
    blocks: int = 2,
    heads: int = 1,
    dropout: float = 0.1,
) -> ModelSettings:
    """The named variant's positional scheme on a model small enough for a unit test."""
    base = ModelSettings(
        max_len=max_len, hidden=hidden, blocks=blocks, heads=heads, dropout=dropout
    )
    return variant_settings(variant, base)


def tiny_model(
    variant: str = "paa",
    n_items: int = 20,
    *,
    seed: int = 0,
    **settings: Any,
) -> SeqRecModel:
    """A freshly initialised, seeded ``SeqRecModel`` (``settings`` go to ``tiny_settings``)."""
    torch.manual_seed(seed)
    return SeqRecModel(tiny_settings(variant, **settings), n_items)


def tiny_vocab(n_items: int) -> ItemVocab:
    """Items ``item1 .. itemN`` at indices ``1 .. N`` (the ids the fake bundle uses too)."""
    return ItemVocab(np.array(["", *(f"item{i}" for i in range(1, n_items + 1))]))


def zipf_popularity(n_items: int) -> np.ndarray:
    """(N + 1,) int64 counts with a clear order: item1 is the most popular, entry 0 is 0."""
    return np.array([0, *(1000 // i for i in range(1, n_items + 1))], dtype=np.int64)


def random_histories(
    n_items: int, batch: int, length: int, seed: int = 0, min_length: int = 1
) -> torch.Tensor:
    """(batch, length) int64 left-padded histories of random true lengths ``min_length..length``."""
    rng = np.random.default_rng(seed)
    history = rng.integers(1, n_items + 1, size=(batch, length))
    for row in range(batch):
        real = int(rng.integers(min_length, length + 1))
        history[row, : length - real] = 0
    return torch.from_numpy(history.astype(np.int64))


def nudge_training(model: SeqRecModel, steps: int, seed: int = 0, lr: float = 1e-2) -> None:
    """A few real Adam steps of next-item cross-entropy on random sequences.

    Moves every parameter (kernels included) away from its initialisation, so exported or
    saved models are not the special near-identity case of a fresh PAA model.
    """
    if steps <= 0:
        return
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    max_len, n_items = model.settings.max_len, model.n_items
    model.train()
    for _ in range(steps):
        seq = torch.randint(1, n_items + 1, (8, max_len + 1), generator=generator)
        hidden = model.encode(seq[:, :-1])  # (B, T, d)
        logits = hidden @ model.item_weights[1:].T  # (B, T, N)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), seq[:, 1:].flatten() - 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def make_tiny_checkpoint(
    directory: Path,
    variant: str = "paa",
    n_items: int = 20,
    max_len: int = 8,
    *,
    hidden: int = 16,
    blocks: int = 2,
    seed: int = 0,
    train_steps: int = 0,
    titles: bool = False,
    name: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a complete checkpoint folder at ``directory`` and return its path.

    The model is a seeded ``SeqRecModel`` of the named variant (see ``ALL_VARIANTS``) with
    ``n_items`` items ``item1 .. itemN``, Zipf-like popularity (item1 most popular) and, when
    ``titles``, titles ``Title 1 .. Title N``. ``train_steps > 0`` takes that many Adam steps
    on random sequences first, so the weights are not the initial ones. The folder loads with
    ``training.checkpoint.load_checkpoint`` and exports with ``export.bundle.export_bundle``.
    """
    model = tiny_model(variant, n_items, seed=seed, max_len=max_len, hidden=hidden, blocks=blocks)
    nudge_training(model, train_steps, seed=seed)
    config = RunConfig(name=name or f"tiny-{variant}", model=model.settings)
    names = np.array(["", *(f"Title {i}" for i in range(1, n_items + 1))]) if titles else None
    default_metrics = {"test": {"ndcg@10": 0.5, "hr@10": 0.75}, "dataset": "synthetic"}
    checkpoint = Checkpoint(
        model=model.eval(),
        config=config,
        vocab=tiny_vocab(n_items),
        popularity=zipf_popularity(n_items),
        metrics=metrics if metrics is not None else default_metrics,
        titles=names,
    )
    return save_checkpoint(directory, checkpoint)


def fixed_score_model(scores: list[float], variant: str = "nope", max_len: int = 8) -> SeqRecModel:
    """A real model whose next-item score for item ``i`` is ``scores[i - 1]`` for any history.

    The final LayerNorm gets zero gain and a bias along the first axis, so every hidden state
    is ``e_0``; item ``i``'s embedding is ``scores[i - 1] * e_0``. Rankings are then known by
    construction while the whole evaluation path (padding, masking, top-K) still runs.
    """
    model = tiny_model(variant, len(scores), max_len=max_len, blocks=1)
    with torch.no_grad():
        model.final_norm.weight.zero_()
        model.final_norm.bias.zero_()
        model.final_norm.bias[0] = 1.0
        model.item_embedding.weight.zero_()
        model.item_embedding.weight[1:, 0] = torch.tensor(scores)
    return model.eval()
