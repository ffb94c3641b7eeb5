"""The training loop: full-softmax next-item training with early stopping on validation."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from training.config import RunConfig
from training.data.splits import EvalSet
from training.evaluation import evaluate
from training.models import SeqRecModel
from training.trainer.distributed import DistributedContext
from training.trainer.early_stopping import EarlyStopping
from training.trainer.objective import NextItemObjective
from training.trainer.runtime import autocast
from training.trainer.sequences import TrainingSequences


@dataclass(frozen=True)
class FitResult:
    best_epoch: int
    epochs_run: int
    best_validation: dict[str, float]
    seconds: float
    stopped_by: str


class Trainer:
    """Runs epochs until patience, the epoch cap or the time budget ends training.

    Under ``torchrun`` every rank trains on its shard of each global batch; rank 0 alone
    evaluates, decides on stopping (broadcast to the others) and writes logs.
    """

    def __init__(
        self,
        model: SeqRecModel,
        sequences: TrainingSequences,
        validation: EvalSet,
        config: RunConfig,
        device: torch.device,
        context: DistributedContext | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.model = model.to(device)
        self.sequences = sequences
        self.validation = validation
        self.config = config
        self.device = device
        self.context = context or DistributedContext()
        self.log_path = log_path if self.context.is_main else None
        self.metric = config.eval.target_metric  # validated against eval.ks by EvalSettings

    def _objective(self) -> nn.Module:
        objective = NextItemObjective(self.model, self.config.train).to(self.device)
        if not self.context.enabled:
            return objective
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(objective, device_ids=device_ids)

    def _train_epoch(
        self,
        objective: nn.Module,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        epoch: int,
    ) -> float:
        settings = self.config.train
        self.model.train()
        shard = (self.context.rank, self.context.world_size)
        batches = self.sequences.batches(settings.batch_size, rng, shard)
        bar = tqdm(
            batches,
            total=self.sequences.n_batches(settings.batch_size),
            leave=False,
            desc=f"epoch {epoch}",
            disable=not (settings.progress and self.context.is_main),
        )
        total = torch.zeros((), device=self.device)
        started, seen, trained_positions = time.perf_counter(), 0, 0
        for inputs, targets, positions in bar:
            inputs_t = torch.from_numpy(inputs).to(self.device, non_blocking=True)
            targets_t = torch.from_numpy(targets).to(self.device, non_blocking=True)
            with autocast(self.device, settings.bf16):
                summed = objective(inputs_t, targets_t)
            loss = summed * (self.context.world_size / positions)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += summed.detach()
            trained_positions += positions  # global count, the same on every rank
            seen += len(inputs)
            if bar.n % 10 == 0:
                rate = seen / max(time.perf_counter() - started, 1e-9)
                bar.set_postfix(loss=f"{loss.item():.4f}", seq_per_s=f"{rate:.0f}")
        # Every rank summed only its shard: add them up so the logged loss is the mean over all
        # positions trained on, the same number a single process reports.
        self.context.all_reduce_sum(total)
        return float(total.item()) / max(trained_positions, 1)

    def _log(self, record: dict[str, object]) -> None:
        if self.log_path is not None:
            with self.log_path.open("a") as log:
                log.write(json.dumps(record) + "\n")

    def fit(self) -> FitResult:
        settings = self.config.train
        objective = self._objective()
        optimizer = torch.optim.Adam(self.model.parameters(), lr=settings.lr, betas=settings.betas)
        rng = np.random.default_rng(settings.seed)
        stopper = EarlyStopping(settings.patience)
        started = time.perf_counter()
        budget = settings.max_minutes * 60 if settings.max_minutes else float("inf")
        epochs = tqdm(
            range(1, settings.epochs + 1),
            desc="training",
            unit="epoch",
            disable=not (settings.progress and self.context.is_main),
        )
        stopped_by, epoch, best_validation = "epochs", 0, {}
        for epoch in epochs:
            epoch_start = time.perf_counter()
            train_loss = self._train_epoch(objective, optimizer, rng, epoch)
            stop = False
            if self.context.is_main:
                validation = evaluate(
                    self.model,
                    self.validation,
                    self.config.eval.ks,
                    self.config.eval.batch_size,
                    self.device,
                )
                score = validation[self.metric]
                stop = stopper.update(score, epoch, self.model)
                if stopper.best_epoch == epoch:
                    best_validation = validation
                elapsed = time.perf_counter() - started
                if stop:
                    stopped_by = "patience"
                elif elapsed > budget:
                    stop, stopped_by = True, "time budget"
                epochs.set_postfix(
                    loss=f"{train_loss:.4f}",
                    **{self.metric: f"{score:.4f}"},
                    best=f"{stopper.best_score:.4f}@{stopper.best_epoch}",
                )
                self._log(
                    {
                        "epoch": epoch,
                        "train_loss": train_loss,
                        "validation": validation,
                        "epoch_seconds": round(time.perf_counter() - epoch_start, 3),
                        "best_epoch": stopper.best_epoch,
                    }
                )
            if self.context.broadcast_flag(stop, self.device):
                break
        if self.context.is_main:
            stopper.restore(self.model)
        return FitResult(
            best_epoch=stopper.best_epoch,
            epochs_run=epoch,
            best_validation=best_validation,
            seconds=time.perf_counter() - started,
            stopped_by=stopped_by,
        )
