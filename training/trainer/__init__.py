"""Training: examples, losses, the loop, early stopping and the distributed context."""

from training.trainer.loop import FitResult, Trainer
from training.trainer.sequences import TrainingSequences

__all__ = ["FitResult", "Trainer", "TrainingSequences"]
