"""Train / validation / test splits for the two evaluation protocols in spec/paa.md.

``temporal`` (the paper's): the globally last interactions are held out and evaluated
"successively", each predicted from everything the same user did before it.
``loo`` (leave-one-out, the literature standard): per user, the last item is the test
target and the one before it the validation target.

Histories are numpy views into one array per user (itself a view into one array for all
users), so even millions of evaluation targets cost little memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.config import SplitConfig
from training.data.errors import DataError
from training.data.interactions import ITEM, ROW, TIMESTAMP, USER, Interactions
from training.data.vocab import ItemVocab


@dataclass(frozen=True)
class EvalSet:
    """Evaluation targets: ``histories[i]`` (item indices, oldest first) precede ``targets[i]``."""

    users: np.ndarray  # (n,) str
    histories: list[np.ndarray]  # n views, int64
    targets: np.ndarray  # (n,) int64

    def __len__(self) -> int:
        return len(self.targets)


@dataclass(frozen=True)
class SplitData:
    """Everything the trainer needs: vocabulary, popularity, training sequences, eval sets."""

    vocab: ItemVocab
    popularity: np.ndarray  # (N + 1,) int64, training counts, entry 0 = 0
    train_sequences: list[np.ndarray]  # per user with >= 1 training event, oldest first
    train_users: list[str]  # aligned with train_sequences
    validation: EvalSet
    test: EvalSet
    protocol: str


def make_split(interactions: Interactions, cfg: SplitConfig) -> SplitData:
    """Split ``interactions`` with ``cfg.protocol`` (see the module docstring)."""
    if len(interactions) == 0:
        raise DataError(f"{interactions.source}: no interactions to split (all filtered out?)")
    if cfg.protocol == "temporal":
        return _temporal(interactions, cfg)
    return _leave_one_out(interactions)


@dataclass(frozen=True)
class _Log:
    """The log as flat arrays in canonical order (user, time, row), users as codes."""

    users: np.ndarray  # (n,) int64 codes into names, non-decreasing
    names: np.ndarray  # (n_users,) str
    items: np.ndarray  # (n,) str, object
    global_rank: np.ndarray  # (n,) position of each row in the global (timestamp, row) order


def _log(interactions: Interactions) -> _Log:
    frame = interactions.frame
    user_codes, names = pd.factorize(frame[USER], sort=True)
    rows = frame[ROW].to_numpy()
    times = frame[TIMESTAMP].to_numpy() if interactions.has_timestamps else rows
    order = np.lexsort((rows, times, user_codes))  # already canonical; cheap to make sure
    global_order = np.lexsort((rows[order], times[order]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[global_order] = np.arange(len(order))
    return _Log(
        users=user_codes[order].astype(np.int64),
        names=np.asarray(names, dtype=str),
        items=frame[ITEM].to_numpy()[order],
        global_rank=rank,
    )


def _temporal(interactions: Interactions, cfg: SplitConfig) -> SplitData:
    if not interactions.has_timestamps:
        raise DataError(
            f"{interactions.source}: the temporal split needs timestamps, but this data has "
            "only an order; use split.protocol=loo (leave-one-out) instead"
        )
    log = _log(interactions)
    n = len(log.users)
    n_holdout = min(round(cfg.holdout_fraction * n), cfg.holdout_cap)
    n_validation = round(cfg.validation_share * n_holdout)
    first_holdout = n - n_holdout
    held_out = log.global_rank >= first_holdout
    is_validation = held_out & (log.global_rank < first_holdout + n_validation)

    vocab = ItemVocab.from_ids(log.items[~held_out])
    codes = vocab.encode(log.items)
    popularity = np.bincount(codes[~held_out], minlength=len(vocab) + 1).astype(np.int64)

    # Held-out events of unseen items vanish everywhere, as if they never happened.
    kept = codes > 0
    users, codes = log.users[kept], codes[kept]
    held_out, is_validation, rank = held_out[kept], is_validation[kept], log.global_rank[kept]
    per_user, starts = _per_user(users, codes, len(log.names))
    position = np.arange(len(users)) - starts[users]  # index within the user's sequence

    # Training events precede held-out ones within each user (global time order), so a
    # user's training sequence is a prefix of their full sequence.
    n_train = np.bincount(users[~held_out], minlength=len(log.names))
    train_users = np.flatnonzero(n_train > 0)
    train_sequences = [per_user[u][: n_train[u]] for u in train_users]

    targets = np.flatnonzero(held_out & (position > 0))  # no prior history: skipped
    targets = targets[np.argsort(rank[targets], kind="stable")]  # successive = time order
    validation = _eval_set(
        targets[is_validation[targets]],
        users=users,
        codes=codes,
        position=position,
        per_user=per_user,
        log=log,
    )
    test = _eval_set(
        targets[~is_validation[targets]],
        users=users,
        codes=codes,
        position=position,
        per_user=per_user,
        log=log,
    )
    return SplitData(
        vocab=vocab,
        popularity=popularity,
        train_sequences=train_sequences,
        train_users=[str(log.names[u]) for u in train_users],
        validation=validation,
        test=test,
        protocol="temporal",
    )


def _leave_one_out(interactions: Interactions) -> SplitData:
    """Users with fewer than 3 interactions only train (SASRec's convention): no targets."""
    log = _log(interactions)
    vocab = ItemVocab.from_ids(log.items)
    codes = vocab.encode(log.items)
    per_user, _ = _per_user(log.users, codes, len(log.names))
    lengths = np.array([len(seq) for seq in per_user], dtype=np.int64)
    n_train = np.where(lengths >= 3, lengths - 2, lengths)
    train_sequences = [seq[:k] for seq, k in zip(per_user, n_train, strict=True)]
    popularity = np.bincount(
        np.concatenate(train_sequences) if train_sequences else np.zeros(0, np.int64),
        minlength=len(vocab) + 1,
    ).astype(np.int64)
    evaluated = np.flatnonzero(lengths >= 3)

    def eval_set(offset: int) -> EvalSet:
        # offset 2: second-to-last item (validation); offset 1: last item (test)
        return EvalSet(
            users=log.names[evaluated],
            histories=[per_user[u][: lengths[u] - offset] for u in evaluated],
            targets=np.array([per_user[u][lengths[u] - offset] for u in evaluated], np.int64),
        )

    return SplitData(
        vocab=vocab,
        popularity=popularity,
        train_sequences=train_sequences,
        train_users=[str(name) for name in log.names],
        validation=eval_set(2),
        test=eval_set(1),
        protocol="loo",
    )


def _per_user(
    users: np.ndarray, codes: np.ndarray, n_users: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Split ``codes`` (grouped by user) into one view per user, plus each user's start."""
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return np.split(codes, np.cumsum(counts)[:-1]), starts


def _eval_set(
    picked: np.ndarray,
    *,
    users: np.ndarray,
    codes: np.ndarray,
    position: np.ndarray,
    per_user: list[np.ndarray],
    log: _Log,
) -> EvalSet:
    return EvalSet(
        users=log.names[users[picked]],
        histories=[per_user[u][:p] for u, p in zip(users[picked], position[picked], strict=True)],
        targets=codes[picked].astype(np.int64),
    )
