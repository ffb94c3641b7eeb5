"""EarlyStopping keeps a real copy of the best epoch's weights."""

from __future__ import annotations

import torch
from torch import nn

from training.trainer.early_stopping import EarlyStopping


def test_restore_brings_back_the_best_epoch_after_in_place_updates() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    stopper = EarlyStopping(patience=2)
    assert not stopper.update(0.5, epoch=1, model=model)
    best = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # an optimiser step changes the tensors in place
        model.weight.add_(1.0)
        model.bias.mul_(-3.0)
    assert not stopper.update(0.4, epoch=2, model=model)
    stopper.restore(model)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, best[name]), name


def test_stops_after_patience_epochs_without_strict_improvement() -> None:
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    scores = [0.3, 0.5, 0.5, 0.5]  # a tie is not an improvement
    decisions = [stopper.update(score, epoch, model) for epoch, score in enumerate(scores, 1)]
    assert decisions == [False, False, False, True]
    assert stopper.best_epoch == 2 and stopper.best_score == 0.5
