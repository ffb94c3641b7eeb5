"""Seeding and device selection, the parts of a run that must be set before anything else."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

from training.config import ConfigError


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def select_device(preference: str) -> torch.device:
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda was requested but CUDA is not available here")
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


@contextlib.contextmanager
def autocast(device: torch.device, bf16: bool) -> Iterator[None]:
    """bf16 autocast on CUDA only: CPU bf16 matmuls are slower than fp32 on most hosts."""
    if device.type == "cuda" and bf16:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
