"""Figures of the quality report: NDCG@10 per dataset and model, and the learned PAA kernels."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.models.model import SeqRecModel


def plot_ndcg(ndcg: dict[str, dict[str, tuple[float, float]]], path: Path) -> None:
    """Grouped bars of ``dataset -> model -> (mean, std)``; a single seed's NaN std has no bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(ndcg)
    models = sorted(
        {m for models in ndcg.values() for m in models}, key=lambda m: (m.startswith("paa-"), m)
    )
    figure, axis = plt.subplots(figsize=(max(6, 2.2 * len(datasets)), 3.6))
    width = 0.8 / max(len(models), 1)
    for index, model in enumerate(models):
        means, stds, xs = [], [], []
        for position, dataset in enumerate(datasets):
            if model in ndcg[dataset]:
                mean, std = ndcg[dataset][model]
                xs.append(position + index * width)
                means.append(mean)
                stds.append(0.0 if math.isnan(std) else std)
        axis.bar(xs, means, width, yerr=stds, label=model, capsize=2)
    axis.set_xticks([p + 0.4 - width / 2 for p in range(len(datasets))], datasets, fontsize=8)
    axis.set_ylabel("test NDCG@10")
    axis.legend(fontsize=7, ncol=4)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _kept_paa_model(runs: list[dict[str, Any]]) -> SeqRecModel | None:
    """The selected PAA run's checkpoint, if this checkout still has it (runs/ is not committed)."""
    from training.checkpoint import CheckpointError, load_checkpoint

    checkpoint = next((r["checkpoint"] for r in runs if r.get("checkpoint")), None)
    if checkpoint is None:
        return None
    try:
        return load_checkpoint(checkpoint).model
    except CheckpointError:
        return None


def plot_kernel_figures(
    table: dict[str, dict[str, list[dict[str, Any]]]], kernels: Path
) -> list[Path]:
    """C = A_keyᵀ·A_val per block for the selected PAA model of each dataset.

    A report written on a checkout without the checkpoint keeps the committed figures."""
    from training.plots import plot_kernels

    written = []
    for dataset, models in table.items():
        folder = kernels / dataset
        model = _kept_paa_model(models.get("paa", []))
        written += plot_kernels(model, folder) if model else sorted(folder.glob("*.png"))
    return written
