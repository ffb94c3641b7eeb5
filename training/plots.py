"""Pictures of what a PAA model learned: its positional kernels and its training curves."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import torch

from training.models import SeqRecModel
from training.models.kernels import ToeplitzKernel
from training.models.positions import PositionAwareKernels


@torch.no_grad()
def block_kernels(model: SeqRecModel) -> list[dict[str, torch.Tensor]]:
    """Per block ``A_key``, ``A_val`` and ``C = A_keyᵀ·A_val`` (the paper's ``U·L``), (T, T)."""
    if not isinstance(model.scheme, PositionAwareKernels):
        return []
    kernels = model.block_kernels(model.settings.max_len)
    result = []
    for key, value in kernels:
        if key is None or value is None:
            raise ValueError("a PAA model has a key and a value kernel in every block")
        result.append({"A_key": key.cpu(), "A_val": value.cpu(), "C": (key.T @ value).cpu()})
    return result


def plot_kernels(model: SeqRecModel, out_dir: Path) -> list[Path]:
    """One PNG with a row of heatmaps per block, and one with the Toeplitz profiles ``ĝ``."""
    blocks = block_kernels(model)
    if not blocks:
        raise ValueError(f"model '{model.settings.arch}' has no positional kernels to plot")
    out_dir.mkdir(parents=True, exist_ok=True)
    names = ("A_key", "A_val", "C")
    figure, axes = plt.subplots(len(blocks), 3, figsize=(10, 3.2 * len(blocks)), squeeze=False)
    for row, kernels in enumerate(blocks):
        for col, name in enumerate(names):
            axis = axes[row][col]
            image = axis.imshow(kernels[name].numpy(), cmap="viridis", aspect="auto")
            axis.set_title(f"block {row}: {name}", fontsize=9)
            axis.set_xlabel("source position s", fontsize=8)
            axis.set_ylabel("target position t", fontsize=8)
            figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    heatmaps = out_dir / "kernels.png"
    figure.savefig(heatmaps, dpi=70)
    plt.close(figure)
    written = [heatmaps]
    assert isinstance(model.scheme, PositionAwareKernels)
    profiles = {
        name: kernel.profile().detach().cpu()
        for name, kernel in model.scheme.named_kernels().items()
        if isinstance(kernel, ToeplitzKernel)
    }
    if profiles:
        figure, axis = plt.subplots(figsize=(6, 3.5))
        for name, profile in profiles.items():
            axis.plot(profile.numpy(), label=name)
        axis.set_xlabel("distance t - s (steps back from the target position)")
        axis.set_ylabel("ĝ")
        axis.set_xscale("symlog", linthresh=1)
        axis.legend(fontsize=8)
        axis.set_title("Toeplitz kernel profiles")
        figure.tight_layout()
        curves = out_dir / "toeplitz_profiles.png"
        figure.savefig(curves, dpi=80)
        plt.close(figure)
        written.append(curves)
    return written


def plot_training_curves(history: Path, out_dir: Path) -> Path:
    """Training loss and the validation metrics per epoch, from ``history.jsonl``."""
    records = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    epochs = [r["epoch"] for r in records]
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
    loss_axis.plot(epochs, [r["train_loss"] for r in records])
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training loss")
    for name in sorted(records[0]["validation"]) if records else []:
        metric_axis.plot(epochs, [r["validation"][name] for r in records], label=name)
    metric_axis.set_xlabel("epoch")
    metric_axis.set_ylabel("validation")
    metric_axis.legend(fontsize=8)
    figure.tight_layout()
    path = out_dir / "training_curves.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
