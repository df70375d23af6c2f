"""Reading candle CSV files in the column variants traders have, with exact error positions.

Accepted (DESIGN §4): a header naming the columns, in any order; the time in a column called
``timestamp``, ``time``, ``date``, ``datetime``, ``ts`` or ``t`` as ISO 8601 (a ``Z`` or an offset;
no zone means UTC), epoch seconds or epoch milliseconds; prices in ``open/high/low/close`` or the
broker's one-letter ``o/h/l/c`` (so the broker's ``t,o,c,h,l`` order works when it is labelled);
an optional ``ticks`` (or ``volume``) column.

The result is always the same frame: ``time`` (int64 epoch seconds of the candle's open, UTC),
``open``, ``high``, ``low``, ``close`` (float64) and ``ticks`` (int64, 0 when the file has none),
sorted by time with repeated times removed (the first row of a time is kept).

A file that cannot be read raises :class:`LoadError`, whose text is ``file:line:column: what is
wrong`` (line 1 is the header; column is the field's position in that line, counting from 1).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ("time", "open", "high", "low", "close", "ticks")
_ALIASES = {
    "time": ("timestamp", "time", "date", "datetime", "ts", "t"),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "ticks": ("ticks", "volume", "vol", "tick_volume", "v"),
}
# Epoch values above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11


class LoadError(ValueError):
    """A CSV file that cannot be read; ``str()`` is ``file:line:column: message``."""

    def __init__(self, path: str | os.PathLike[str], line: int, column: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        self.message = message
        super().__init__(f"{self.path}:{line}:{column}: {message}")


@dataclass(frozen=True)
class LoadedFile:
    """Candles read from one file, with what was cleaned on the way."""

    candles: pd.DataFrame
    rows: int
    duplicates: int
    out_of_order: int


def empty_candles() -> pd.DataFrame:
    """A frame with the candle columns and no rows."""
    return pd.DataFrame(
        {
            "time": np.empty(0, np.int64),
            **{c: np.empty(0, np.float64) for c in ("open", "high", "low", "close")},
            "ticks": np.empty(0, np.int64),
        }
    )


def map_columns(path: str | os.PathLike[str], header: list[str]) -> dict[str, int]:
    """Position of each candle column in ``header``; :class:`LoadError` naming what is missing."""
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    found: dict[str, int] = {}
    for col, aliases in _ALIASES.items():
        hits = [i for i, n in enumerate(names) if n in aliases]
        if len(hits) > 1:
            dup = ", ".join(header[i].strip() for i in hits)
            raise LoadError(path, 1, hits[1] + 1, f"two columns mean {col}: {dup}; keep one")
        if hits:
            found[col] = hits[0]
    missing = [c for c in COLUMNS[:5] if c not in found]
    if missing:
        known = {a for aliases in _ALIASES.values() for a in aliases}
        if not any(n in known for n in names):
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


# ISO times as the persistence service writes them: 2026-06-14T10:00:00Z.
_PLAIN_ISO_LENGTH = 20


def plain_iso_seconds(cells: list[str]) -> np.ndarray | None:
    """Epoch seconds (int64) of cells that are all ``YYYY-MM-DDTHH:MM:SSZ``, else None.

    numpy reads this one exact form many times faster than pandas' general ISO parser, and it is
    the form of every file the persistence service writes.
    """
    if not cells or not all(
        isinstance(c, str) and len(c) == _PLAIN_ISO_LENGTH and c[-1] == "Z" and c[10] == "T" for c in cells
    ):
        return None
    try:
        return np.array([c[:-1] for c in cells], dtype="datetime64[s]").astype(np.int64)
    except ValueError:
        return None


def _times_from_column(col: pd.Series) -> np.ndarray | None:
    """Epoch seconds of a whole time column, or None when some cell is not a time."""
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = np.asarray(col, dtype=np.float64)
        if not np.isfinite(values).all():
            return None
        if len(values) and np.abs(values).max() > _MS_THRESHOLD:
            values = values / 1000.0
        return values
    plain = plain_iso_seconds(col.tolist())
    if plain is not None:
        return plain.astype(np.float64)
    text = col.astype(str).str.strip()
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        return None
    if parsed.isna().any():
        return None
    naive = parsed.dt.tz_localize(None).astype("datetime64[ms]")
    return np.asarray(naive.astype("int64"), dtype=np.float64) / 1000.0


def read_candles(path: str | os.PathLike[str]) -> LoadedFile:
    """Read one candle CSV file; see the module docstring for what is accepted.

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
    frame = _build(p, frame, cols)
    if frame is None:
        raise diagnose(p)
    return _tidy(frame)


def _build(p: Path, raw: pd.DataFrame, cols: dict[str, int]) -> pd.DataFrame | None:
    """The candle frame from a raw frame, or None when some cell is wrong (found by :func:`diagnose`)."""
    names = list(raw.columns)
    out: dict[str, np.ndarray] = {}
    times = _times_from_column(raw[names[cols["time"]]])
    if times is None:
        return None
    out["time"] = np.floor(times + 1e-6).astype(np.int64)
    for name in ("open", "high", "low", "close"):
        col = raw[names[cols[name]]]
        if not pd.api.types.is_numeric_dtype(col.dtype):
            return None
        values = col.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all() or (values <= 0).any():
            return None
        out[name] = values
    if "ticks" in cols:
        col = raw[names[cols["ticks"]]]
        if not pd.api.types.is_numeric_dtype(col.dtype):
            return None
        ticks = col.to_numpy(dtype=np.float64)
        if not np.isfinite(ticks).all() or (ticks < 0).any():
            return None
        out["ticks"] = ticks.astype(np.int64)
    else:
        out["ticks"] = np.zeros(len(raw), np.int64)
    o, h, low, c = out["open"], out["high"], out["low"], out["close"]
    if ((h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)).any():
        return None
    return pd.DataFrame(out, columns=list(COLUMNS))


def _tidy(frame: pd.DataFrame) -> LoadedFile:
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


def diagnose(path: str | os.PathLike[str]) -> LoadError:
    """The first problem of a file, found row by row (slow; only used once a file failed)."""
    p = Path(path)
    try:
        fh = p.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        return LoadError(p, 1, 1, f"cannot read the file: {exc}")
    with fh:
        reader = csv.reader(fh, skipinitialspace=True)
        try:
            header = next(reader)
        except StopIteration:
            return LoadError(p, 1, 1, "the file is empty")
        except (csv.Error, UnicodeDecodeError) as exc:
            return LoadError(p, 1, 1, f"not a CSV file: {exc}")
        try:
            cols = map_columns(p, header)
        except LoadError as exc:
            return exc
        line = 1
        try:
            for row in reader:
                line = reader.line_num
                problem = _row_problem(row, header, cols)
                if problem is not None:
                    return LoadError(p, line, problem[0], problem[1])
        except (csv.Error, UnicodeDecodeError) as exc:
            return LoadError(p, line + 1, 1, f"not a CSV line: {exc}")
    return LoadError(p, 1, 1, "the file cannot be read as candles")


def _row_problem(row: list[str], header: list[str], cols: dict[str, int]) -> tuple[int, str] | None:
    if not row:
        return None
    if all(not cell.strip() for cell in row):
        return 1, "a line with no values"
    if len(row) != len(header):
        return (
            min(len(row), len(header)) + 1,
            f"{len(row)} values where the header has {len(header)} columns",
        )
    tcell = row[cols["time"]]
    if not tcell.strip():
        return cols["time"] + 1, f"empty {header[cols['time']].strip()}"
    if parse_time_cell(tcell) is None:
        return cols["time"] + 1, f"{tcell.strip()!r} is not a time (use ISO 8601, epoch seconds or ms)"
    prices: dict[str, float] = {}
    for name in ("open", "high", "low", "close", "ticks"):
        if name not in cols:
            continue
        i = cols[name]
        cell = row[i].strip()
        label = header[i].strip()
        if not cell:
            return i + 1, f"empty {label}"
        try:
            value = float(cell)
        except ValueError:
            return i + 1, f"{cell!r} is not a number ({label})"
        if not math.isfinite(value) or (value <= 0 and name != "ticks") or value < 0:
            return i + 1, f"{cell!r} is not a valid {label}"
        prices[name] = value
    o, h, low, c = prices["open"], prices["high"], prices["low"], prices["close"]
    if h < max(o, c, low):
        return cols["high"] + 1, f"high {h} is below open, close or low"
    if low > min(o, c):
        return cols["low"] + 1, f"low {low} is above open or close"
    return None


# Share of intervals that must be whole multiples of the step for a file to have one timeframe.
MIN_FIT = 0.9


@dataclass(frozen=True)
class TimeframeFit:
    """The timeframe read from the intervals between candle times.

    ``seconds`` is the most common step; ``fit`` the share of intervals that are whole multiples
    of it (a gap of three candles fits, a 90 s step in a 1m file does not); ``gaps`` counts the
    intervals longer than one step and ``irregular`` those that are not multiples of it.
    """

    seconds: int | None
    fit: float
    intervals: int
    gaps: int
    irregular: int

    @property
    def fits(self) -> bool:
        """True when the intervals fit one timeframe well enough to trust it."""
        return self.seconds is not None and self.fit >= MIN_FIT

    def message(self) -> str:
        """One line for a person: the timeframe and how well the rows fit it."""
        from services.bus.timeframes import label

        if self.seconds is None:
            return "too few candles to tell the timeframe"
        share = f"{self.fit * 100:.1f}%"
        if not self.fits:
            return (
                f"the intervals don't fit one timeframe: the most common step, {label(self.seconds)}, "
                f"fits only {share} of rows"
            )
        return f"timeframe {label(self.seconds)} ({share} of rows fit, {self.gaps} gaps)"


def detect_timeframe(times: np.ndarray) -> TimeframeFit:
    """The timeframe of candle open times (epoch seconds, any order), robust to gaps and odd rows."""
    t = np.unique(np.asarray(times, dtype=np.int64))
    steps = np.diff(t)
    if len(steps) == 0:
        return TimeframeFit(None, 0.0, 0, 0, 0)
    values, counts = np.unique(steps, return_counts=True)
    # The most common step; on a tie, the smaller one (gaps only ever make steps longer).
    step = int(values[np.argmax(counts)])
    multiple = steps % step == 0
    fit = float(multiple.mean())
    gaps = int((multiple & (steps > step)).sum())
    return TimeframeFit(step, fit, len(steps), gaps, int((~multiple).sum()))
