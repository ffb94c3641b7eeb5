"""Session-wide settings for the training tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_torch() -> Iterator[None]:
    """One torch thread for the session, when the collected tests use torch at all.

    Collection has imported every test module by now, so a suite that never imports torch
    (the data layer's) does not pay for importing it here.
    """
    if "torch" not in sys.modules:
        yield
        return
    from tests.utils.torch_threads import single_threaded_torch

    with single_threaded_torch():
        yield
