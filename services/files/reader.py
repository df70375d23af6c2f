"""Reading candle files in the column variants traders have, with exact error positions.

Accepted (DESIGN §4): a header naming the columns, in any order; the time in a column called
``timestamp``, ``time``, ``date``, ``datetime``, ``ts`` or ``t`` as ISO 8601 (a ``Z`` or an offset;
no zone means UTC), epoch seconds or epoch milliseconds; prices in ``open/high/low/close`` or the
broker's one-letter ``o/h/l/c`` (so the broker's ``t,o,c,h,l`` order works when it is labelled);
optional ``ticks``, ``volume`` (cells may be empty) and ``complete`` (1/0) columns; in a file
with ``volume`` but neither ``ticks`` nor ``complete`` (older exports), ``volume`` is the tick count.
The names come from :mod:`.columns`.

The result is always the same frame: ``time`` (int64 epoch seconds of the candle's open, UTC),
``open``, ``high``, ``low``, ``close`` (float64), ``ticks`` (int64, 0 when the file has none),
``volume`` (float64, NaN when unknown) and ``complete`` (int64 1/0, 1 when the file has none),
sorted by time with repeated times removed (the first row of a time is kept).

A file that cannot be read raises :class:`LoadError`, whose text is ``file:line:column: what is
wrong`` (line 1 is the header; column is the field's position in that line, counting from 1).
Finding that position is :mod:`.diagnose`'s job; the quick readers here only say whether a file
reads.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantumflux.files.cells import (
    LoadError,
    map_columns,
    parse_time_cell,
    plain_iso_seconds,
    plain_iso_times,
    time_cells,
    times_from_column,
)
from quantumflux.files.columns import CANDLE_COLUMNS, CANDLE_FIELDS, PRICE_FIELDS, Column
from quantumflux.files.diagnose import diagnose

__all__ = [
    "LoadError",
    "LoadedFile",
    "RowTimes",
    "empty_candles",
    "incomplete_rows",
    "read_candles",
    "read_times",
    "row_times",
]

Frame = Any  # a pandas DataFrame (pandas has no type information)


@dataclass(frozen=True)
class LoadedFile:
    """Candles read from one file (or, from the archive, from ``files`` files in a row), with
    what was cleaned on the way."""

    candles: Frame
    rows: int
    duplicates: int
    out_of_order: int
    files: int = 1


def _dtype(column: Column) -> type:
    return np.float64 if column.kind in ("price", "amount") else np.int64


def empty_candles() -> Frame:
    """A frame with the candle columns and no rows."""
    return pd.DataFrame({c.name: np.empty(0, _dtype(c)) for c in CANDLE_COLUMNS})


def read_candles(path: str | os.PathLike[str]) -> LoadedFile:
    """Read one candle file; see the module docstring for what is accepted.

    Raises :class:`LoadError` (``file:line:column: message``) for anything it cannot read.
    """
    p = Path(path)
    try:
        with p.open("r", encoding="utf-8-sig", newline="") as fh:
            header_line = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(p, 1, 1, f"cannot read the file: {exc}") from None
    if not header_line.strip():
        raise LoadError(p, 1, 1, "the file is empty")
    header = next(csv.reader([header_line]))
    cols = map_columns(p, header)
    try:
        frame = pd.read_csv(p, encoding="utf-8-sig", skipinitialspace=True)
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError):
        raise diagnose(p) from None
    frame = _build(frame, cols)
    if frame is None:
        raise diagnose(p)
    return _tidy(frame)


def _column_values(col: Any, column: Column) -> npt.NDArray[Any] | None:
    """One column's values as the frame keeps them, or None when some cell is not valid."""
    if column.kind == "time":
        times = times_from_column(col)
        return None if times is None else np.floor(times + 1e-6).astype(np.int64)
    if not pd.api.types.is_numeric_dtype(col.dtype):
        return None
    values = col.to_numpy(dtype=np.float64)
    if column.kind == "amount":
        # An empty cell is an unknown amount (NaN); a present one is whole and 0 or more.
        known = values[~np.isnan(values)]
        ok = np.isfinite(known).all() and (known >= 0).all() and (known == np.floor(known)).all()
        return values if ok else None
    if not np.isfinite(values).all():
        return None
    if column.kind == "price":
        return None if (values <= 0).any() else values
    if column.kind == "flag":
        return values.astype(np.int64) if np.isin(values, (0.0, 1.0)).all() else None
    return None if (values < 0).any() else values.astype(np.int64)


def _build(raw: Frame, cols: dict[str, int]) -> Frame | None:
    """The candle frame from a raw frame, or None when some cell is wrong (found by :func:`diagnose`)."""
    names = list(raw.columns)
    out: dict[str, npt.NDArray[Any]] = {}
    for column in CANDLE_COLUMNS:
        if column.name not in cols:
            out[column.name] = np.full(len(raw), column.default, _dtype(column))
            continue
        values = _column_values(raw[names[cols[column.name]]], column)
        if values is None:
            return None
        out[column.name] = values
    o, h, low, c = (out[n] for n in PRICE_FIELDS)
    if ((h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)).any():
        return None
    return pd.DataFrame(out, columns=list(CANDLE_FIELDS))


def _tidy(frame: Frame) -> LoadedFile:
    rows = len(frame)
    t = frame["time"].to_numpy()
    out_of_order = int((np.diff(t) < 0).sum()) if rows > 1 else 0
    if out_of_order:
        frame = frame.sort_values("time", kind="stable")
    dup = frame["time"].duplicated(keep="first")
    duplicates = int(dup.sum())
    if duplicates:
        frame = frame[~dup.to_numpy()]
    return LoadedFile(frame.reset_index(drop=True), rows, duplicates, out_of_order)


@dataclass(frozen=True)
class RowTimes:
    """The times of a file's rows in file order (epoch seconds, to the millisecond), and how many
    rows had no readable time. ``one_form`` is False when the times could only be read cell by
    cell (forms mixed in one column, or unreadable cells), which the loader does not accept."""

    times: npt.NDArray[np.float64]
    bad: int
    one_form: bool = True


def _time_cells_of(path: str | os.PathLike[str], candles: bool) -> list[str | None]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(p, 1, 1, f"cannot read the file: {exc}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise LoadError(p, 1, 1, "the file is empty")
    header = next(csv.reader([lines[0]]))
    return time_cells(p, header, lines[1:], quoted='"' in text, candles=candles)


def _times(cells: list[str | None]) -> RowTimes:
    if None not in cells:
        times = plain_iso_times(cells)
        if times is None:
            times = times_from_column(pd.Series(cells, dtype=object))
        if times is not None:
            return RowTimes(times, 0)
    read = [parse_time_cell(c) if c is not None else None for c in cells]
    good = [t for t in read if t is not None]
    return RowTimes(np.array(good, dtype=np.float64), len(read) - len(good), one_form=False)


def row_times(path: str | os.PathLike[str], candles: bool = True) -> RowTimes:
    """The time of every row of a candle file (or, ``candles`` False, a tick file).

    Only the time column is read, so this is quick; prices are not checked. Raises
    :class:`LoadError` when the file or its header cannot be read; blank lines are skipped.
    """
    return _times(_time_cells_of(path, candles))


def read_times(path: str | os.PathLike[str]) -> npt.NDArray[np.int64]:
    """The candle times of one file, as the loader floors them; :class:`LoadError` (at the first
    bad row) when the file or a time cannot be read."""
    cells = _time_cells_of(path, candles=True)
    whole = plain_iso_seconds(cells) if cells else np.empty(0, np.int64)
    if whole is not None:
        return whole  # the files the persistence service writes: whole seconds already
    found = _times(cells)
    if not found.one_form:
        raise diagnose(path)
    return cast(npt.NDArray[np.int64], np.floor(found.times + 1e-6).astype(np.int64))


def incomplete_rows(path: str | os.PathLike[str]) -> int:
    """How many rows of a candle file say ``complete`` 0 (none in a file without the column).

    Only that column is looked at, so this is quick; :class:`LoadError` when the file cannot be read.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError(p, 1, 1, f"cannot read the file: {exc}") from None
    lines = text.splitlines()
    if not lines:
        return 0
    names = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    if "complete" not in names:
        return 0
    col = names.index("complete")
    rows = [line for line in lines[1:] if line.strip()]
    split = list(csv.reader(rows, skipinitialspace=True)) if '"' in text else [r.split(",") for r in rows]
    return sum(1 for r in split if len(r) > col and r[col].strip() == "0")
