"""Headers and time cells of candle and tick files: which column is which, and what time a cell says."""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantumflux.files.columns import CANDLE_COLUMNS

# Epoch values above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11
# ISO times as the persistence service writes them: 2026-06-14T10:00:00Z, ticks …:00.250Z.
_PLAIN_ISO_LENGTHS = (20, 24)
_KNOWN = frozenset(a for c in CANDLE_COLUMNS for a in c.aliases)
_TIME_ALIASES = next(c.aliases for c in CANDLE_COLUMNS if c.kind == "time")


class LoadError(ValueError):
    """A CSV file that cannot be read; ``str()`` is ``file:line:column: message``."""

    def __init__(self, path: str | os.PathLike[str], line: int, column: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{self.path}:{line}:{column}: {message}")


def _names(header: list[str]) -> list[str]:
    return [h.strip().lower().lstrip("\ufeff") for h in header]


def map_columns(path: str | os.PathLike[str], header: list[str]) -> dict[str, int]:
    """Position of each candle column in ``header``; :class:`LoadError` naming what is missing."""
    names = _names(header)
    found: dict[str, int] = {}
    for column in CANDLE_COLUMNS:
        hits = [i for i, n in enumerate(names) if n in column.aliases]
        if len(hits) > 1:
            dup = ", ".join(header[i].strip() for i in hits)
            raise LoadError(path, 1, hits[1] + 1, f"two columns mean {column.name}: {dup}; keep one")
        if hits:
            found[column.name] = hits[0]
    if "volume" in found and "ticks" not in found and "complete" not in found:
        # An older export, where ``volume`` was the tick count: read it as before.
        found["ticks"] = found.pop("volume")
    missing = [c.name for c in CANDLE_COLUMNS if c.required and c.name not in found]
    if missing:
        if not any(n in _KNOWN for n in names):
            raise LoadError(
                path, 1, 1, "no header: the first line must name the columns (time, open, high, low, close)"
            )
        raise LoadError(
            path,
            1,
            len(names) or 1,
            f"missing column {', '.join(missing)} (the header has: {', '.join(h.strip() for h in header)})",
        )
    return found


def time_column(path: str | os.PathLike[str], header: list[str], candles: bool) -> int:
    """Position of the time column: of a candle header (every price column must be there too)
    or of any header (a tick file's)."""
    if candles:
        return map_columns(path, header)["time"]
    for i, name in enumerate(_names(header)):
        if name in _TIME_ALIASES:
            return i
    raise LoadError(path, 1, 1, "no time column in the header")


def time_cells(
    path: str | os.PathLike[str], header: list[str], lines: list[str], quoted: bool, candles: bool
) -> list[str | None]:
    """The time cell of every non-blank line (None for a line too short to have one)."""
    col = time_column(path, header, candles)
    rows = [line for line in lines if line.strip()]
    # Quoted cells need the csv module to split them; plain ones split faster by hand.
    split = list(csv.reader(rows, skipinitialspace=True)) if quoted else [r.split(",") for r in rows]
    return [r[col].strip() if len(r) > col else None for r in split]


def parse_time_cell(text: str) -> float | None:
    """Epoch seconds of one time cell (ISO, epoch s or ms), or None if it is not a time."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        try:
            ts = pd.Timestamp(text)
        except (ValueError, TypeError):
            return None
        if ts is pd.NaT:
            return None
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return float(ts.timestamp())
    if not math.isfinite(value):
        return None
    return value / 1000.0 if abs(value) > _MS_THRESHOLD else value


def plain_iso_seconds(cells: list[Any]) -> npt.NDArray[np.int64] | None:
    """Epoch seconds of cells that are all ``YYYY-MM-DDTHH:MM:SSZ``, else None.

    numpy reads this exact form many times faster than pandas' general ISO parser, and it is the
    form of every candle file the persistence service writes.
    """
    return _plain(cells, _PLAIN_ISO_LENGTHS[0], "datetime64[s]")


def plain_iso_times(cells: list[Any]) -> npt.NDArray[np.float64] | None:
    """Epoch seconds of cells that are all ``YYYY-MM-DDTHH:MM:SSZ`` or all with ``.mmm`` before
    the ``Z`` (as tick files have them), else None."""
    if not cells:
        return np.empty(0, np.float64)
    if isinstance(cells[0], str) and len(cells[0]) == _PLAIN_ISO_LENGTHS[1]:
        ms = _plain(cells, _PLAIN_ISO_LENGTHS[1], "datetime64[ms]")
        return None if ms is None else ms / 1000.0
    seconds = plain_iso_seconds(cells)
    return None if seconds is None else seconds.astype(np.float64)


def _plain(cells: list[Any], size: int, unit: str) -> npt.NDArray[np.int64] | None:
    if not cells or not all(
        isinstance(c, str) and len(c) == size and c[-1] == "Z" and c[10] == "T" for c in cells
    ):
        return None
    try:
        return np.array([c[:-1] for c in cells], dtype=unit).astype(np.int64)
    except ValueError:
        return None


def times_from_column(col: Any) -> npt.NDArray[np.float64] | None:
    """Epoch seconds of a whole time column (a pandas Series), or None when some cell is not a time."""
    if not pd.api.types.is_numeric_dtype(col.dtype):
        cells = col.tolist()
        plain = plain_iso_times(cells)
        if plain is not None:
            return plain
        try:
            col = pd.Series(np.array(cells, dtype=np.float64))  # epoch seconds or milliseconds
        except (ValueError, TypeError):
            return _iso_column(col)
    values = np.asarray(col, dtype=np.float64)
    if not np.isfinite(values).all():
        return None
    if len(values) and np.abs(values).max() > _MS_THRESHOLD:
        values = values / 1000.0
    return values


def _iso_column(col: Any) -> npt.NDArray[np.float64] | None:
    text = col.astype(str).str.strip()
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        return None
    if parsed.isna().any():
        return None
    naive = parsed.dt.tz_localize(None).astype("datetime64[ms]")
    return np.asarray(naive.astype("int64"), dtype=np.float64) / 1000.0
