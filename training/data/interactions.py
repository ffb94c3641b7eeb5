"""The canonical interaction table every later stage reads (see docs/architecture.md).

Readers produce whatever their source holds; :meth:`Interactions.from_frame` turns it into
one shape (string ids, int64 timestamp and row, sorted by user then time) so that splits and
preprocessing never have to care where the data came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

USER = "user_id"
ITEM = "item_id"
TIMESTAMP = "timestamp"
ROW = "row"


@dataclass(frozen=True)
class Interactions:
    """A user-item log in canonical form.

    ``frame`` has columns ``user_id`` and ``item_id`` (object dtype holding ``str``), optional
    ``timestamp`` (int64, present exactly when ``has_timestamps``) and ``row`` (int64, the
    original order, used as the final tie-breaker). Rows are sorted by user id (as strings),
    then timestamp, then row. ``titles`` maps item ids to display titles when known.
    """

    frame: pd.DataFrame
    has_timestamps: bool
    source: str
    titles: dict[str, str] | None = None

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, *, source: str, titles: dict[str, str] | None = None
    ) -> Interactions:
        """Canonicalise ``frame`` (ids to str, int64 columns, stable sort) into a new table.

        ``frame`` needs ``user_id`` and ``item_id``; ``timestamp`` is optional and ``row``
        defaults to the current row order.
        """
        has_ts = TIMESTAMP in frame.columns
        n = len(frame)
        # Explicit object Series: pandas >= 3 would otherwise infer its own "str" dtype.
        columns: dict[str, object] = {
            USER: pd.Series(_as_str(frame[USER]), dtype=object, copy=False),
            ITEM: pd.Series(_as_str(frame[ITEM]), dtype=object, copy=False),
        }
        if has_ts:
            columns[TIMESTAMP] = frame[TIMESTAMP].to_numpy(dtype=np.int64)
        rows = frame[ROW].to_numpy(dtype=np.int64) if ROW in frame.columns else np.arange(n)
        columns[ROW] = rows.astype(np.int64, copy=False)
        out = pd.DataFrame(columns)
        out = out.iloc[canonical_order(out)].reset_index(drop=True)
        return cls(frame=out, has_timestamps=has_ts, source=source, titles=titles)

    def with_frame(self, frame: pd.DataFrame) -> Interactions:
        """A copy holding ``frame``: for filters that keep rows (and so the order) unchanged."""
        return replace(self, frame=frame.reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def n_users(self) -> int:
        return int(self.frame[USER].nunique())

    @property
    def n_items(self) -> int:
        return int(self.frame[ITEM].nunique())


def canonical_order(frame: pd.DataFrame) -> np.ndarray:
    """Positions that sort ``frame`` by (user_id, timestamp, row); ``row`` makes it total.

    Factorising the users first keeps this a fast integer lexsort even for tens of millions
    of rows, where sorting object columns directly would be slow.
    """
    user_codes, _ = pd.factorize(frame[USER], sort=True)
    keys: list[np.ndarray] = [frame[ROW].to_numpy()]
    if TIMESTAMP in frame.columns:
        keys.append(frame[TIMESTAMP].to_numpy())
    keys.append(user_codes)
    return np.lexsort(keys)


def _as_str(series: pd.Series) -> np.ndarray:
    """Ids as an object array of Python ``str`` (the contract's dtype, whatever pandas infers).

    Whole-number floats (ids read from a column that had a missing value somewhere) become
    ``"12"`` rather than ``"12.0"``.
    """
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy()
        if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            series = series.astype(np.int64)
    return series.astype(str).to_numpy(dtype=object)
