"""One training run end to end: data, split, model, fit, test evaluation, checkpoint."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.checkpoint import Checkpoint, save_checkpoint
from training.config import RunConfig, dump_config
from training.data import load_interactions
from training.data.splits import SplitData, make_split
from training.evaluation import evaluate
from training.models import SeqRecModel
from training.models.variants import variant_name
from training.trainer import FitResult, Trainer, TrainingSequences
from training.trainer.distributed import init_distributed, shutdown_distributed
from training.trainer.runtime import seed_everything, select_device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    split: SplitData
    titles: np.ndarray | None
    n_interactions: int


@dataclass(frozen=True)
class RunResult:
    checkpoint_dir: Path | None
    metrics: dict[str, Any]
    fit: FitResult


def prepare_data(config: RunConfig) -> PreparedData:
    interactions = load_interactions(config.data)
    split = make_split(interactions, config.split)
    titles = None
    if interactions.titles:
        titles = np.array([interactions.titles.get(item, "") for item in split.vocab.items])
    return PreparedData(split, titles, len(interactions.frame))


def run_training(
    config: RunConfig, prepared: PreparedData | None = None, save: bool = True
) -> RunResult:
    """Train, evaluate the best epoch on validation and test, write the checkpoint folder.

    ``prepared`` lets a benchmark reuse one loaded split across many runs.
    """
    context = init_distributed(config.train.device)
    try:
        seed_everything(config.train.seed)
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        device = select_device(config.train.device)
        if context.enabled and device.type == "cuda":
            device = torch.device("cuda", context.local_rank)
        prepared = prepared or prepare_data(config)
        split = prepared.split
        run_dir = config.run_dir
        if context.is_main and save:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "history.jsonl").unlink(missing_ok=True)
            (run_dir / "resolved_config.yaml").write_text(dump_config(config))
        model = SeqRecModel(config.model, len(split.vocab))
        sequences = TrainingSequences(split.train_sequences, config.model.max_len)
        trainer = Trainer(
            model,
            sequences,
            split.validation,
            config,
            device,
            context,
            log_path=run_dir / "history.jsonl" if save else None,
        )
        fit = trainer.fit()
        if not context.is_main:
            return RunResult(None, {}, fit)
        test = evaluate(model, split.test, config.eval.ks, config.eval.batch_size, device)
        metrics: dict[str, Any] = {
            "model": variant_name(config.model),
            "dataset": config.data.source,
            "protocol": config.split.protocol,
            "n_items": len(split.vocab),
            "n_train_sequences": len(sequences),
            "n_validation_targets": len(split.validation),
            "n_test_targets": len(split.test),
            "best_epoch": fit.best_epoch,
            "epochs_run": fit.epochs_run,
            "stopped_by": fit.stopped_by,
            "train_seconds": round(fit.seconds, 2),
            "device": str(device),
            "world_size": context.world_size,
            "validation": fit.best_validation,
            "test": test,
        }
        checkpoint_dir = None
        if save:
            checkpoint_dir = save_checkpoint(
                run_dir / "checkpoint",
                Checkpoint(
                    model.cpu(), config, split.vocab, split.popularity, metrics, prepared.titles
                ),
            )
        return RunResult(checkpoint_dir, metrics, fit)
    finally:
        shutdown_distributed(context)
