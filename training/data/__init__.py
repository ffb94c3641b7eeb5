"""Data layer: read a raw log, clean it, and split it for training and evaluation.

``load_interactions(cfg)`` is the entry point for a run; ``make_split`` turns its result
into what the trainer consumes (see docs/architecture.md for the contracts).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from training.config import DataConfig
from training.data.datasets import BUILTIN_DATASETS, cache_root, load_builtin
from training.data.errors import DataError
from training.data.interactions import Interactions
from training.data.preprocess import drop_duplicates, k_core, min_sequence_length, preprocess
from training.data.readers import read_path
from training.data.splits import EvalSet, SplitData, make_split
from training.data.titles import read_titles
from training.data.vocab import ItemVocab

__all__ = [
    "BUILTIN_DATASETS",
    "DataError",
    "EvalSet",
    "Interactions",
    "ItemVocab",
    "SplitData",
    "cache_root",
    "drop_duplicates",
    "k_core",
    "load_builtin",
    "load_interactions",
    "make_split",
    "min_sequence_length",
    "preprocess",
    "read_path",
    "read_titles",
]


def load_interactions(cfg: DataConfig) -> Interactions:
    """Read ``cfg.source`` (a built-in name or a path), preprocess it, attach titles.

    A path that exists wins over a built-in name, so a local folder called ``ml-100k`` is
    read as data rather than triggering a download. Titles from ``cfg.titles`` replace any
    the source carried itself (e.g. MovieLens' ``movies.csv``).
    """
    if cfg.source in BUILTIN_DATASETS and not Path(cfg.source).exists():
        interactions = load_builtin(cfg.source, cfg.cache_dir)
    else:
        interactions = read_path(cfg.source, cfg.format, cfg.columns, cfg.separator)
    interactions = preprocess(interactions, cfg)
    if cfg.titles is not None:
        interactions = replace(interactions, titles=read_titles(cfg.titles))
    return interactions
