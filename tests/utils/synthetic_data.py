"""Tiny synthetic interaction logs with a learnable pattern, and writers for the input formats.

Users mostly walk the catalogue in order (item ``i`` is followed by ``i + 1``), with a few
random jumps, so a model trained for a couple of epochs does better than chance.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import SplitConfig
from training.data import Interactions, make_split
from training.data.splits import EvalSet, SplitData


def synthetic_sequences(
    n_users: int = 40,
    n_items: int = 12,
    min_length: int = 4,
    max_length: int = 9,
    seed: int = 0,
    jump_probability: float = 0.15,
) -> list[list[int]]:
    """Per user, item indices ``1..n_items`` in time order (every item occurs somewhere)."""
    rng = np.random.default_rng(seed)
    sequences: list[list[int]] = []
    for user in range(n_users):
        length = int(rng.integers(min_length, max_length + 1))
        item = user % n_items + 1  # every item starts some sequence
        sequence = [item]
        for _ in range(length - 1):
            if rng.random() < jump_probability:
                item = int(rng.integers(1, n_items + 1))
            else:
                item = item % n_items + 1
            sequence.append(item)
        sequences.append(sequence)
    return sequences


def write_sequences_file(path: Path, sequences: Sequence[Sequence[int]]) -> Path:
    """The ``sequences`` text format: ``user item item ...`` per line, no timestamps."""
    lines = [
        " ".join([f"u{user}", *(f"item{i}" for i in items)]) for user, items in enumerate(sequences)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_interactions_csv(
    path: Path, sequences: Sequence[Sequence[int]], timestamps: bool = True
) -> Path:
    """``user_id,item_id[,timestamp]`` rows; timestamps interleave users in global time."""
    n_users = len(sequences)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["user_id", "item_id", "timestamp"] if timestamps else ["user_id", "item_id"]
        )
        for user, items in enumerate(sequences):
            for step, item in enumerate(items):
                row: list[object] = [f"u{user}", f"item{item}"]
                if timestamps:
                    row.append(1_000_000 + step * n_users + user)
                writer.writerow(row)
    return path


def eval_set(histories: Sequence[Sequence[int]], targets: Sequence[int]) -> EvalSet:
    """An ``EvalSet`` from plain lists (users are named ``u0``, ``u1``, ...)."""
    return EvalSet(
        users=np.array([f"u{i}" for i in range(len(targets))]),
        histories=[np.asarray(h, dtype=np.int64) for h in histories],
        targets=np.asarray(targets, dtype=np.int64),
    )


def leave_one_out_split(sequences: Sequence[Sequence[int]]) -> SplitData:
    """The leave-one-out split of ``sequences`` (item ids ``item<i>``, users ``u<n>``)."""
    frame = pd.DataFrame(
        [(f"u{user}", f"item{item}") for user, items in enumerate(sequences) for item in items],
        columns=["user_id", "item_id"],
    )
    interactions = Interactions.from_frame(frame, source="synthetic")
    return make_split(interactions, SplitConfig(protocol="loo"))
