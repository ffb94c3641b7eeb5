"""Parsers for the MovieLens archive layouts (100K ``u.data``, 1M ``ratings.dat``, 20M/latest
``ratings.csv``) and their title files.

They take raw bytes so the same code reads a file on disk or a member of a downloaded zip.
Ratings are dropped: next-item recommendation uses every rating as an implicit interaction.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from training.data.errors import DataError
from training.data.interactions import ITEM, TIMESTAMP, USER, Interactions

RATINGS_FILES = ("ratings.csv", "ratings.dat", "u.data")
TITLE_FILES = {"ratings.csv": "movies.csv", "ratings.dat": "movies.dat", "u.data": "u.item"}


def parse_ratings(name: str, data: bytes, source: str) -> Interactions:
    """Ratings from a MovieLens ratings file, chosen by its base ``name``."""
    base = Path(name).name
    try:
        if base == "u.data":
            raw = pd.read_csv(io.BytesIO(data), sep="\t", header=None, usecols=[0, 1, 3])
        elif base == "ratings.dat":
            # '::' would need pandas' slow python engine; a tab never occurs in this file.
            raw = pd.read_csv(
                io.BytesIO(data.replace(b"::", b"\t")), sep="\t", header=None, usecols=[0, 1, 3]
            )
        elif base == "ratings.csv":
            raw = pd.read_csv(io.BytesIO(data), usecols=["userId", "movieId", "timestamp"])
        else:
            raise DataError(f"{source}: {name} is not a known MovieLens ratings file")
    except (pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{source}: cannot parse {name}: {exc}") from exc
    raw.columns = [USER, ITEM, TIMESTAMP]
    if raw.empty:
        raise DataError(f"{source}: {name} has no ratings")
    return Interactions.from_frame(raw, source=source)


def parse_titles(name: str, data: bytes, source: str) -> dict[str, str]:
    """``movie id -> title`` from ``movies.csv``, ``movies.dat`` or ``u.item``."""
    base = Path(name).name
    try:
        if base == "movies.csv":
            raw = pd.read_csv(io.BytesIO(data), usecols=["movieId", "title"], dtype=str)
        elif base in ("movies.dat", "u.item"):
            # Both are latin-1 encoded; u.item is '|'-separated with the title second.
            text = data.decode("latin-1")
            sep = "::" if base == "movies.dat" else "|"
            rows = [line.split(sep)[:2] for line in text.splitlines() if line.strip()]
            raw = pd.DataFrame(rows, columns=["movieId", "title"])
        else:
            raise DataError(f"{source}: {name} is not a known MovieLens titles file")
    except (pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{source}: cannot parse {name}: {exc}") from exc
    return dict(zip(raw["movieId"].astype(str), raw["title"].astype(str), strict=True))
