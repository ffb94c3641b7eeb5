"""TrainingSequences: last T + 1 items, per-batch padding, and exact data-parallel shards."""

from __future__ import annotations

import numpy as np
import pytest

from training.trainer import TrainingSequences

MAX_LEN = 6
# User u's items are 100(u + 1) + 1, 100(u + 1) + 2, ... so every row can be traced back to its user.
LENGTHS = [2, 3, 9, 4, 7, 2, 5, 3, 8, 6, 1]
SEQUENCES = [np.arange(1, n + 1) + 100 * (user + 1) for user, n in enumerate(LENGTHS)]


def row_items(inputs: np.ndarray, targets: np.ndarray) -> tuple[int, ...]:
    """A row as its full (input + last target) sequence, padding dropped."""
    real = inputs[inputs != 0].tolist()
    return (*real, int(targets[-1]))


def test_each_example_is_the_last_t_plus_one_items_left_padded() -> None:
    sequences = TrainingSequences(SEQUENCES, MAX_LEN)
    assert len(sequences) == len(LENGTHS) - 1  # a single interaction is no example
    user = 2  # nine items: only the last seven are kept
    row = 2
    assert sequences.inputs[row].tolist() == (SEQUENCES[user][-7:-1]).tolist()
    assert sequences.targets[row].tolist() == (SEQUENCES[user][-6:]).tolist()
    short = 0  # two items: one input, one target, five padding slots
    assert sequences.inputs[short].tolist() == [0, 0, 0, 0, 0, 101]
    assert sequences.targets[short].tolist() == [0, 0, 0, 0, 0, 102]
    assert sequences.lengths.sum() == sum(min(n - 1, MAX_LEN) for n in LENGTHS if n >= 2)


def test_batches_are_padded_to_their_longest_row_and_cover_every_row_once() -> None:
    sequences = TrainingSequences(SEQUENCES, MAX_LEN)
    seen: list[tuple[int, ...]] = []
    widths = []
    for inputs, targets, positions in sequences.batches(3, np.random.default_rng(0)):
        real = (inputs != 0).sum(axis=1)
        assert inputs.shape == targets.shape
        assert inputs.shape[1] == real.max()  # no column is padding in every row
        assert positions == real.sum()  # single process: the batch's own positions
        widths.append(inputs.shape[1])
        seen.extend(row_items(i, t) for i, t in zip(inputs, targets, strict=True))
    expected = [tuple(s[-(MAX_LEN + 1) :].tolist()) for s in SEQUENCES if len(s) >= 2]
    assert sorted(seen) == sorted(expected)
    assert len(set(widths)) > 1  # batches really have different widths
    assert sequences.n_batches(3) == len(widths)


@pytest.mark.parametrize("world", [2, 3])
def test_shards_of_a_global_batch_are_exactly_the_single_process_batch(world: int) -> None:
    sequences = TrainingSequences(SEQUENCES, MAX_LEN)
    single = list(sequences.batches(4, np.random.default_rng(7)))
    shards = [
        list(sequences.batches(4, np.random.default_rng(7), (r, world))) for r in range(world)
    ]
    # The last global batch has 10 % 4 = 2 rows: kept for world 2, dropped everywhere for 3.
    expected_batches = len(single) if world == 2 else len(single) - 1
    assert all(len(batches) == expected_batches for batches in shards)
    for index in range(expected_batches):
        inputs, targets, positions = single[index]
        union: list[tuple[int, ...]] = []
        for rank in range(world):
            shard_inputs, shard_targets, shard_positions = shards[rank][index]
            assert shard_positions == positions  # every rank normalises by the global count
            union.extend(row_items(i, t) for i, t in zip(shard_inputs, shard_targets, strict=True))
        global_rows = [row_items(i, t) for i, t in zip(inputs, targets, strict=True)]
        assert sorted(union) == sorted(global_rows)
        assert len(union) == len(set(union))  # no row on two ranks


def test_data_with_no_two_item_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="two or more interactions"):
        TrainingSequences([np.array([1]), np.array([2])], MAX_LEN)
