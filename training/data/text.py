"""Readers for whitespace-separated logs without timestamps (the ICLRec / BERT4Rec files).

``sequences``: one user per line, ``user item item ...`` in time order.
``pairs``: one ``user item`` per line, each user's lines in time order.
Both keep file order as the ``row`` column, which is all the ordering these formats have.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from training.data.errors import DataError
from training.data.interactions import ITEM, ROW, USER, Interactions

TextFormat = Literal["sequences", "pairs"]
_SNIFF_LINES = 50


def read_text(path: Path, fmt: TextFormat) -> Interactions:
    """Parse a ``sequences`` or ``pairs`` file; blank lines are skipped.

    A sequences line needs a user and at least one item; a pairs line exactly two fields.
    Anything else is a DataError naming the line number.
    """
    users: list[str] = []
    items: list[str] = []
    for number, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        if fmt == "pairs" and len(fields) != 2:
            raise DataError(f"{path} line {number}: expected 'user item', got {len(fields)} fields")
        if len(fields) < 2:
            raise DataError(
                f"{path} line {number}: expected 'user item [item ...]', got a user with no items"
            )
        users.extend([fields[0]] * (len(fields) - 1))
        items.extend(fields[1:])
    if not users:
        raise DataError(f"{path}: file is empty")
    frame = pd.DataFrame(
        {
            USER: np.array(users, dtype=object),
            ITEM: np.array(items, dtype=object),
            ROW: np.arange(len(users), dtype=np.int64),
        }
    )
    return Interactions.from_frame(frame, source=str(path))


def sniff_text_format(path: Path) -> TextFormat:
    """``pairs`` when the first non-blank lines all have exactly two fields, else ``sequences``.

    The two formats agree on such lines anyway, so a wrong guess on a file whose first lines
    are all pairs cannot change the result; a later longer line is then reported as an error.
    """
    counts: list[int] = []
    for _, line in _lines(path):
        fields = line.split()
        if fields:
            counts.append(len(fields))
            if len(counts) >= _SNIFF_LINES:
                break
    if not counts:
        raise DataError(f"{path}: file is empty")
    return "pairs" if all(count == 2 for count in counts) else "sequences"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines (1-based), decoded as UTF-8 with a clear error on bad bytes."""
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text: {exc}") from exc
