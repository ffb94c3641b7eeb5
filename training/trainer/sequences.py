"""Training examples: each user's most recent ``T + 1`` items as (input, next-item target)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class TrainingSequences:
    """Left-padded (input, target) pairs stored once; batches are padded to their longest row.

    Padding each batch to its own longest sequence instead of to ``T`` saves most of the work
    on short-history data such as Amazon, where a T-length batch is mostly padding.
    """

    def __init__(self, sequences: Sequence[np.ndarray], max_len: int) -> None:
        usable = [np.asarray(s[-(max_len + 1) :], dtype=np.int64) for s in sequences if len(s) >= 2]
        if not usable:
            raise ValueError("no training sequence has two or more interactions")
        self.max_len = max_len
        self.lengths = np.array([len(s) - 1 for s in usable], dtype=np.int64)
        self.inputs = np.zeros((len(usable), max_len), dtype=np.int64)
        self.targets = np.zeros((len(usable), max_len), dtype=np.int64)
        for row, seq in enumerate(usable):
            n = len(seq) - 1
            self.inputs[row, max_len - n :] = seq[:-1]
            self.targets[row, max_len - n :] = seq[1:]

    def __len__(self) -> int:
        return len(self.lengths)

    def batches(
        self,
        batch_size: int,
        rng: np.random.Generator,
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """Shuffled ``(inputs, targets, global_positions)`` batches.

        ``shard = (rank, world)`` gives this process its slice of each global batch, so that
        data-parallel ranks together see exactly the single-process batch; every rank draws the
        same permutation and knows the global number of target positions, which the loss is
        normalised by. A final global batch smaller than ``world`` is dropped on every rank.
        """
        rank, world = shard
        order = rng.permutation(len(self))
        for start in range(0, len(order), batch_size):
            global_rows = order[start : start + batch_size]
            if len(global_rows) < world:
                continue
            rows = global_rows[rank::world]
            width = int(self.lengths[rows].max())
            positions = int(self.lengths[global_rows].sum())
            yield self.inputs[rows, -width:], self.targets[rows, -width:], positions

    def n_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)
