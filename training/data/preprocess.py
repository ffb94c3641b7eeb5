"""Cleaning steps applied after reading: de-duplication, k-core and minimum length filters.

Each step takes and returns :class:`Interactions` and only removes rows, so the canonical
sort order is kept without re-sorting.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.config import DataConfig
from training.data.interactions import ITEM, TIMESTAMP, USER, Interactions


def drop_duplicates(interactions: Interactions) -> Interactions:
    """Drop repeated ``(user, item, timestamp)`` rows, keeping the first.

    Without timestamps nothing is dropped: a repeated item is then a genuine re-consumption
    in the order we are given, and there is no time to call two rows the same event.
    """
    if not interactions.has_timestamps:
        return interactions
    frame = interactions.frame
    keep = ~frame.duplicated(subset=[USER, ITEM, TIMESTAMP], keep="first").to_numpy()
    if keep.all():
        return interactions
    return interactions.with_frame(frame.loc[keep])


def k_core(interactions: Interactions, min_user: int, min_item: int) -> Interactions:
    """Iteratively drop users with < ``min_user`` and items with < ``min_item`` interactions.

    Removing items can push users below the threshold and vice versa, so this repeats until
    nothing changes; the result is the largest sub-log where both hold (possibly empty).
    """
    if min_user <= 1 and min_item <= 1:
        return interactions
    frame = interactions.frame
    users, _ = pd.factorize(frame[USER])
    items, _ = pd.factorize(frame[ITEM])
    keep = np.ones(len(frame), dtype=bool)
    while True:
        user_counts = np.bincount(users[keep], minlength=users.max(initial=-1) + 1)
        item_counts = np.bincount(items[keep], minlength=items.max(initial=-1) + 1)
        ok = keep & (user_counts[users] >= min_user) & (item_counts[items] >= min_item)
        if np.array_equal(ok, keep):
            break
        keep = ok
    return interactions if keep.all() else interactions.with_frame(frame.loc[keep])


def min_sequence_length(interactions: Interactions, min_length: int) -> Interactions:
    """Drop users whose sequence is shorter than ``min_length`` (after the other filters)."""
    if min_length <= 1:
        return interactions
    frame = interactions.frame
    lengths = frame.groupby(USER, sort=False)[USER].transform("size").to_numpy()
    keep = lengths >= min_length
    return interactions if keep.all() else interactions.with_frame(frame.loc[keep])


def preprocess(interactions: Interactions, cfg: DataConfig) -> Interactions:
    """Apply the configured steps in order: de-duplicate, k-core, minimum sequence length.

    The length filter runs last and only removes users, so it can leave an item below the
    k-core threshold; set ``min_user_interactions`` instead when that matters.
    """
    if cfg.drop_duplicates:
        interactions = drop_duplicates(interactions)
    interactions = k_core(interactions, cfg.min_user_interactions, cfg.min_item_interactions)
    return min_sequence_length(interactions, cfg.min_sequence_length)
