"""A real (tiny) training run: the loss falls and early stopping restores the best epoch."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from tests.utils.synthetic_data import leave_one_out_split, synthetic_sequences
from tests.utils.tiny_models import tiny_settings
from training.config import EvalSettings, RunConfig, TrainSettings
from training.data.splits import SplitData
from training.evaluation import evaluate
from training.models import SeqRecModel
from training.trainer import FitResult, Trainer, TrainingSequences
from training.trainer import loop as loop_module
from training.trainer.early_stopping import EarlyStopping
from training.trainer.runtime import seed_everything

METRIC = "ndcg@5"


class RecordingEarlyStopping(EarlyStopping):
    """The real EarlyStopping, remembering the weights it was asked to replace."""

    last: list[dict[str, torch.Tensor]] = []  # noqa: RUF012 - one instance per test run

    def restore(self, model: nn.Module) -> None:
        RecordingEarlyStopping.last.append(
            {k: v.detach().clone() for k, v in model.state_dict().items()}
        )
        super().restore(model)


@dataclass(frozen=True)
class Run:
    model: SeqRecModel
    split: SplitData
    config: RunConfig
    result: FitResult
    history: list[dict[str, Any]]
    last_state: dict[str, torch.Tensor]


def tiny_run_config(epochs: int, patience: int) -> RunConfig:
    return RunConfig(
        model=tiny_settings("paa", max_len=10, blocks=1, dropout=0.1),
        train=TrainSettings(
            epochs=epochs, batch_size=16, lr=0.01, patience=patience, seed=0, progress=False
        ),
        eval=EvalSettings(ks=[5], target_metric=METRIC),
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Train until patience runs out, logging to history.jsonl and recording the last weights."""
    split = leave_one_out_split(synthetic_sequences(n_users=48, n_items=20, seed=3))
    config = tiny_run_config(epochs=40, patience=2)
    seed_everything(config.train.seed)
    model = SeqRecModel(config.model, len(split.vocab))
    log = tmp_path_factory.mktemp("loop") / "history.jsonl"
    sequences = TrainingSequences(split.train_sequences, config.model.max_len)
    trainer = Trainer(model, sequences, split.validation, config, torch.device("cpu"), log_path=log)
    RecordingEarlyStopping.last = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loop_module, "EarlyStopping", RecordingEarlyStopping)
        result = trainer.fit()
    history = [json.loads(line) for line in log.read_text().splitlines()]
    (last_state,) = RecordingEarlyStopping.last
    return Run(model, split, config, result, history, last_state)


def test_training_stops_on_patience_after_the_best_epoch(run: Run) -> None:
    assert run.result.stopped_by == "patience"
    assert run.result.epochs_run == len(run.history) < run.config.train.epochs
    assert run.result.best_epoch == run.result.epochs_run - run.config.train.patience
    scores = [record["validation"][METRIC] for record in run.history]
    assert run.result.best_epoch == scores.index(max(scores)) + 1  # first epoch of the best
    assert run.history[-1]["best_epoch"] == run.result.best_epoch


def test_restored_model_is_the_best_epoch_not_the_last(run: Run) -> None:
    best_logged = run.history[run.result.best_epoch - 1]["validation"]
    restored = evaluate(run.model, run.split.validation, [5])
    assert restored == best_logged == run.result.best_validation
    changed = [
        k for k, v in run.model.state_dict().items() if not torch.equal(v, run.last_state[k])
    ]
    assert changed, "the restored weights are the last epoch's"
    # The recorded last-epoch weights reproduce the last logged validation, so the log and
    # the weights agree and the restore really went back in time.
    last = SeqRecModel(run.config.model, run.model.n_items)
    last.load_state_dict(run.last_state)
    assert evaluate(last, run.split.validation, [5]) == run.history[-1]["validation"]


def test_training_reduces_the_loss(run: Run) -> None:
    losses = [record["train_loss"] for record in run.history]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[0] == pytest.approx(math.log(20), rel=0.25)  # about uniform over 20 items
    assert losses[-1] < 0.8 * losses[0]


def test_every_logged_epoch_has_the_documented_fields(run: Run) -> None:
    for epoch, record in enumerate(run.history, 1):
        assert record["epoch"] == epoch
        assert set(record) == {"epoch", "train_loss", "validation", "epoch_seconds", "best_epoch"}
        assert set(record["validation"]) == {"hr@5", "ndcg@5", "mrr@5", "cov@5"}


def test_a_target_metric_whose_k_is_not_evaluated_is_refused() -> None:
    config = tiny_run_config(epochs=1, patience=1)
    with pytest.raises(ValueError, match="ndcg@10"):
        config.eval.target_metric = "ndcg@10"
