"""Turn a path (file or folder) plus a format name into :class:`Interactions`.

This is the one entry point for user-supplied data; it picks the concrete reader from the
configured format or, for ``auto``, from the extension and a look at the content.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from training.config import ColumnMapping
from training.data.errors import DataError
from training.data.interactions import Interactions
from training.data.movielens import RATINGS_FILES, TITLE_FILES, parse_ratings, parse_titles
from training.data.tabular import read_csv, read_parquet
from training.data.text import read_text, sniff_text_format

Format = Literal["auto", "csv", "parquet", "sequences", "pairs"]

# Looked for, in this order, when the source is a folder.
FOLDER_FILES = ("ratings.csv", "ratings.dat", "u.data", "sequences.txt", "interactions.txt")
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_path(
    path: str | Path,
    fmt: Format = "auto",
    columns: ColumnMapping | None = None,
    separator: str | None = None,
) -> Interactions:
    """Read interactions from a file or a dataset folder.

    A folder is searched for ``FOLDER_FILES``; MovieLens folders also get their titles
    (``movies.csv`` / ``movies.dat`` / ``u.item``) attached.
    """
    path = Path(path)
    columns = columns if columns is not None else ColumnMapping()
    if path.is_dir():
        return _read_folder(path, fmt, columns, separator)
    if not path.is_file():
        raise DataError(f"{path}: no such file or folder (and not a built-in dataset name)")
    concrete = resolve_format(path, fmt)
    if concrete == "csv":
        return read_csv(path, columns, separator)
    if concrete == "parquet":
        return read_parquet(path, columns)
    return read_text(path, concrete)


def resolve_format(path: Path, fmt: Format) -> Literal["csv", "parquet", "sequences", "pairs"]:
    """The concrete format for ``path``: ``fmt`` itself unless it is ``auto``."""
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in _EXTENSIONS:
        return "csv" if _EXTENSIONS[suffix] == "csv" else "parquet"
    if suffix == ".txt":
        return sniff_text_format(path)
    raise DataError(
        f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
        "use .csv/.tsv/.parquet/.pq/.txt or set data.format"
    )


def _read_folder(
    path: Path, fmt: Format, columns: ColumnMapping, separator: str | None
) -> Interactions:
    found = next((path / name for name in FOLDER_FILES if (path / name).is_file()), None)
    if found is None:
        raise DataError(f"{path}: folder has none of {', '.join(FOLDER_FILES)}")
    if found.name in ("ratings.dat", "u.data"):
        # Header-less MovieLens layouts: only the MovieLens parser knows their columns.
        interactions = parse_ratings(found.name, found.read_bytes(), str(found))
    else:
        interactions = read_path(found, fmt, columns, separator)
    if found.name in RATINGS_FILES:
        titles_file = path / TITLE_FILES[found.name]
        if titles_file.is_file():
            titles = parse_titles(titles_file.name, titles_file.read_bytes(), str(titles_file))
            interactions = replace(interactions, titles=titles)
    return interactions
