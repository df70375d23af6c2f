"""Reading tick files: ``timestamp,price`` rows as the persistence service writes them.

The result is a frame of ``ts`` (float64 epoch seconds, to the millisecond) and ``price``
(float64), in file order: ticks may share a millisecond, so nothing is dropped as a repeat. A file
that cannot be read raises :class:`~.cells.LoadError` at its first bad line.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantumflux.files.cells import LoadError, parse_time_cell, time_column, times_from_column

TICK_FIELDS = ("ts", "price")
Frame = Any  # a pandas DataFrame (pandas has no type information)


def empty_ticks() -> Frame:
    """A frame with the tick columns and no rows."""
    return pd.DataFrame({"ts": np.empty(0, np.float64), "price": np.empty(0, np.float64)})


def read_ticks(path: str | os.PathLike[str]) -> Frame:
    """Every tick of one file in file order; :class:`LoadError` for a file or row it cannot read."""
    p = Path(path)
    try:
        with p.open("r", encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(p, 1, 1, f"cannot read the file: {exc}") from None
    if not first.strip():
        raise LoadError(p, 1, 1, "the file is empty")
    header = next(csv.reader([first]))
    t_col = time_column(p, header, candles=False)
    names = [h.strip().lower() for h in header]
    if "price" not in names:
        raise LoadError(p, 1, len(names), "no price column in the header")
    p_col = names.index("price")
    try:
        raw = pd.read_csv(p, encoding="utf-8-sig", skipinitialspace=True, usecols=[t_col, p_col])
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError):
        raise _first_bad_row(p, t_col, p_col) from None
    times = times_from_column(raw.iloc[:, 0 if t_col < p_col else 1])
    prices = raw.iloc[:, 1 if t_col < p_col else 0]
    if times is None or not pd.api.types.is_numeric_dtype(prices.dtype):
        raise _first_bad_row(p, t_col, p_col)
    values = prices.to_numpy(dtype=np.float64)
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise _first_bad_row(p, t_col, p_col)
    return pd.DataFrame({"ts": np.asarray(times, dtype=np.float64), "price": values})


def _first_bad_row(path: Path, t_col: int, p_col: int) -> LoadError:
    # Only reached once the quick reader failed: slow, but it names the line and column to fix.
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        next(reader, None)
        for row in reader:
            line = reader.line_num
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) <= max(t_col, p_col):
                return LoadError(path, line, len(row) or 1, "the row is cut short")
            if parse_time_cell(row[t_col]) is None:
                return LoadError(path, line, t_col + 1, f"not a time: {row[t_col]!r}")
            try:
                price = float(row[p_col])
            except ValueError:
                price = math.nan
            if not (math.isfinite(price) and price > 0):
                return LoadError(path, line, p_col + 1, f"not a price: {row[p_col]!r}")
    return LoadError(path, 1, 1, "times in more than one form; write them all one way")
