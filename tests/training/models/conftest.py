"""Fixtures for the model tests: every variant of the zoo, small and seeded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from tests.utils.tiny_models import ALL_VARIANTS, nudge_training, tiny_model
from training.models import SeqRecModel

MAX_LEN = 10
N_ITEMS = 25


@pytest.fixture(params=ALL_VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def model(variant: str) -> Iterator[SeqRecModel]:
    """A two-block model of ``variant`` nudged off its initialisation, in eval mode.

    The global RNG state is restored afterwards so tests stay independent of their order.
    """
    state = torch.random.get_rng_state()
    built = tiny_model(variant, N_ITEMS, seed=1, max_len=MAX_LEN, blocks=2, dropout=0.3)
    nudge_training(built, steps=3, seed=1)
    yield built.eval()
    torch.random.set_rng_state(state)
