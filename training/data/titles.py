"""Item titles from a user-named CSV or Parquet file (``DataConfig.titles``).

Titles are display-only: they travel into the bundle so the service can show names, and
never influence training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from training.config import TitlesConfig
from training.data.errors import DataError
from training.data.tabular import sniff_delimiter


def read_titles(cfg: TitlesConfig) -> dict[str, str]:
    """``item id -> title`` from ``cfg.path`` (``.parquet``/``.pq``, otherwise delimited text)."""
    path = Path(cfg.path)
    if not path.is_file():
        raise DataError(f"{path}: titles file does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        header = list(pq.read_schema(path).names)
        _check(path, header, cfg)
        raw = pd.read_parquet(path, columns=[cfg.item, cfg.title])
    else:
        sample = path.read_text(encoding="utf-8", errors="replace")[:65536]
        sep = sniff_delimiter(path, sample)
        header = list(pd.read_csv(path, sep=sep, nrows=0).columns)
        _check(path, header, cfg)
        raw = pd.read_csv(path, sep=sep, usecols=[cfg.item, cfg.title], dtype=str)
    raw = raw.dropna()
    return dict(zip(raw[cfg.item].astype(str), raw[cfg.title].astype(str), strict=True))


def _check(path: Path, header: list[str], cfg: TitlesConfig) -> None:
    for name in (cfg.item, cfg.title):
        if name not in header:
            raise DataError(f"{path}: missing column {name!r} (have: {', '.join(header)})")
