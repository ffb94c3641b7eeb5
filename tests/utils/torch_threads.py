"""Keep torch single-threaded in tests: tiny tensors only lose from intra-op threading.

On a shared, busy CPU two intra-op threads made a three-step training of a tiny model ~40x
slower (1 s instead of 0.03 s), so every torch-using suite pins one thread for its session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run the body with one intra-op thread, restoring the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
