"""Checkpoint folders: everything needed to rebuild, evaluate, plot or export a trained model.

Weights are safetensors (no pickle, so loading a checkpoint never executes code); the resolved
run config lets the model rebuild itself, and the item vocabulary and popularity travel with
the weights so that export and serving never need the training data.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from training.atomic import replace_dir
from training.config import RunConfig
from training.data.vocab import ItemVocab
from training.errors import UserError
from training.models import SeqRecModel

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
POPULARITY_FILE = "popularity.npy"
TITLES_FILE = "titles.npy"
METRICS_FILE = "metrics.json"


class CheckpointError(UserError):
    """A checkpoint folder that is missing, incomplete or corrupt."""


@dataclass
class Checkpoint:
    model: SeqRecModel
    config: RunConfig
    vocab: ItemVocab
    popularity: np.ndarray
    metrics: dict[str, Any]
    titles: np.ndarray | None = None


def save_checkpoint(directory: str | Path, checkpoint: Checkpoint) -> Path:
    """Write the folder atomically: a crash leaves either the old checkpoint or the new one."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; checkpoints are shared artefacts
    try:
        tree = checkpoint.config.model_dump(mode="json")
        tree["n_items"] = checkpoint.model.n_items
        (staging / CONFIG_FILE).write_text(yaml.safe_dump(tree, sort_keys=False))
        state = {k: v.detach().cpu().contiguous() for k, v in checkpoint.model.state_dict().items()}
        save_file(state, staging / WEIGHTS_FILE)
        checkpoint.vocab.save(staging)
        np.save(
            staging / POPULARITY_FILE, checkpoint.popularity.astype(np.int64), allow_pickle=False
        )
        if checkpoint.titles is not None:
            np.save(staging / TITLES_FILE, checkpoint.titles.astype(str), allow_pickle=False)
        (staging / METRICS_FILE).write_text(json.dumps(checkpoint.metrics, indent=2))
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the model from the folder's own config; errors say which file is wrong."""
    folder = Path(directory)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint {folder} does not exist or is not a folder")
    for name in (CONFIG_FILE, WEIGHTS_FILE, "items.npy", POPULARITY_FILE):
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint {folder} is incomplete: {name} is missing")
    try:
        tree = yaml.safe_load((folder / CONFIG_FILE).read_text())
        n_items = int(tree.pop("n_items"))
        config = RunConfig.model_validate(tree)
    except (
        yaml.YAMLError,
        ValidationError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
    ) as exc:
        raise CheckpointError(
            f"{folder / CONFIG_FILE} is not a valid checkpoint config: {exc}"
        ) from exc
    try:
        state = load_file(folder / WEIGHTS_FILE)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} is corrupt: {exc}") from exc
    model = SeqRecModel(config.model, n_items)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder / WEIGHTS_FILE} does not match its config: {exc}") from exc
    try:
        vocab = ItemVocab.load(folder)
        popularity = np.load(folder / POPULARITY_FILE, allow_pickle=False)
        titles_path = folder / TITLES_FILE
        titles = np.load(titles_path, allow_pickle=False) if titles_path.is_file() else None
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"checkpoint {folder}: unreadable vocabulary file: {exc}") from exc
    if len(vocab) != n_items or len(popularity) != n_items + 1:
        raise CheckpointError(
            f"checkpoint {folder}: vocabulary size does not match n_items={n_items}"
        )
    metrics_path = folder / METRICS_FILE
    try:
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{metrics_path} is not valid JSON: {exc}") from exc
    return Checkpoint(model.to(device).eval(), config, vocab, popularity, metrics, titles)
