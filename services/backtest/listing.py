"""What the web app reads about datasets: counts and times for the list, and the candles themselves.

``GET /datasets`` shows, for every dataset, its candles (after stitching: repeated times counted
once), the first and last candle time, the timeframe and the gaps. Only the time column of each
file is read for that, and the result is kept per file under (path, size, modification time), so a
listing reads again only the files that changed (the chunk being written grows; the others stay).
The listing does not check prices: a file with a bad price is listed, and a backtest on it says
exactly where the problem is.

``GET /datasets/{id}/candles`` loads the dataset as a backtest does (every value checked) and keeps
the last few loaded datasets, so paging through one dataset does not read it again.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantumflux.bus.timeframes import label
from quantumflux.files.cells import LoadError, parse_time_cell
from quantumflux.files.datasets import Dataset, load
from quantumflux.files.gaps import detect_timeframe, span_of
from quantumflux.files.reader import read_times

DEFAULT_LIMIT = 5000
MAX_LIMIT = 200_000
# Times kept in the per-file cache (8 bytes each): about 80 MB at most.
MAX_CACHED_TIMES = 10_000_000
# Loaded datasets kept for the candles endpoint: at most 3, and beyond the newest one, at most
# 3 million candles together (about 150 MB).
MAX_CACHED_FRAMES = 3
MAX_CACHED_CANDLES = 3_000_000

FileKey = tuple[str, int, int]


def iso(t: int) -> str:
    """ISO 8601 UTC with a ``Z`` of epoch seconds ``t``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def summarize(times: np.ndarray, timeframe: int | None) -> dict[str, Any]:
    """Candles, first and last time, timeframe and gaps of a dataset from its candle times (pure).

    ``times`` are every file's times together, in any order and with repeats (counted once);
    ``timeframe`` is the dataset's own (from its folder) or None to detect it from the intervals.
    """
    t = np.asarray(times, dtype=np.int64)
    step = timeframe
    if step is None and len(t) > 1:
        fit = detect_timeframe(t)
        step = fit.seconds if fit.fits else None
    span = span_of(t, step)
    first = None if span.first is None else int(span.first)
    last = None if span.last is None else int(span.last)
    return {
        "rows": span.distinct,
        "start": iso(first) if first is not None else None,
        "end": iso(last) if last is not None else None,
        "start_time": first,
        "end_time": last,
        "timeframe": label(step) if step else None,
        "timeframe_seconds": step,
        "gaps": span.gaps,
        "missing_candles": span.missing,
    }


def newest(frame: pd.DataFrame, limit: int, before: int | None = None) -> tuple[pd.DataFrame, bool]:
    """The newest ``limit`` candles of a time-sorted frame, only those opening before ``before``
    when given; and whether older candles remain (pure)."""
    t = frame["time"].to_numpy()
    stop = len(t) if before is None else int(np.searchsorted(t, before, side="left"))
    start = max(0, stop - limit)
    return frame.iloc[start:stop], start > 0


def candle_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Candles as ``{time, open, high, low, close, ticks}`` with ``time`` in epoch seconds (pure)."""
    cols = [frame[c].tolist() for c in ("time", "open", "high", "low", "close", "ticks")]
    return [
        {"time": t, "open": o, "high": h, "low": lo, "close": c, "ticks": k}
        for t, o, h, lo, c, k in zip(*cols, strict=True)
    ]


@dataclass(frozen=True)
class _FileEntry:
    key: FileKey
    times: np.ndarray | None
    problem: str | None


def _file_key(path: Path) -> FileKey | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_size, st.st_mtime_ns)


def _problem(path: Path, exc: LoadError) -> str:
    # File name only: the listing never shows where the data folder is.
    return f"{path.name}:{exc.line}:{exc.column}: {exc.message}"


class Listing:
    """The dataset list with counts and times, and loaded datasets, with their caches."""

    def __init__(
        self,
        max_times: int = MAX_CACHED_TIMES,
        max_frames: int = MAX_CACHED_FRAMES,
        max_candles: int = MAX_CACHED_CANDLES,
    ) -> None:
        self.lock = threading.Lock()
        self.files: OrderedDict[str, _FileEntry] = OrderedDict()
        self.cached_times = 0
        self.max_times = max_times
        self.summaries: dict[str, tuple[tuple[FileKey | None, ...], dict[str, Any]]] = {}
        self.frames: OrderedDict[str, tuple[tuple[FileKey | None, ...], pd.DataFrame]] = OrderedDict()
        self.max_frames = max_frames
        self.max_candles = max_candles
        self.files_read = 0

    def _file(self, path: Path, key: FileKey) -> _FileEntry:
        with self.lock:
            entry = self.files.get(key[0])
            if entry is not None and entry.key == key:
                self.files.move_to_end(key[0])
                return entry
        try:
            times: np.ndarray | None = read_times(path)
            problem = None
        except LoadError as exc:
            times, problem = None, _problem(path, exc)
        entry = _FileEntry(key, times, problem)
        with self.lock:
            self.files_read += 1
            old = self.files.pop(key[0], None)
            if old is not None and old.times is not None:
                self.cached_times -= len(old.times)
            self.files[key[0]] = entry
            self.cached_times += len(times) if times is not None else 0
            while self.cached_times > self.max_times and len(self.files) > 1:
                _, dropped = self.files.popitem(last=False)
                if dropped.times is not None:
                    self.cached_times -= len(dropped.times)
        return entry

    def describe(self, ds: Dataset) -> dict[str, Any]:
        """``ds.describe()`` with candles, first and last time, timeframe (label and seconds), gaps,
        and ``problem``: the first file whose times cannot be read (its candles are not counted)."""
        keys = tuple(_file_key(p) for p in ds.files)
        with self.lock:
            hit = self.summaries.get(ds.id)
        if hit is not None and hit[0] == keys:
            stats = hit[1]
        else:
            parts: list[np.ndarray] = []
            problem = None
            for path, key in zip(ds.files, keys, strict=True):
                if key is None:
                    problem = problem or f"{path.name}: the file is gone"
                    continue
                entry = self._file(path, key)
                if entry.times is not None:
                    parts.append(entry.times)
                else:
                    problem = problem or entry.problem
            times = np.concatenate(parts) if parts else np.empty(0, np.int64)
            # A derived dataset counts its own candles, not the finer ones it is built from.
            stats = summarize(ds.candle_times(times), ds.timeframe) | {"problem": problem}
            with self.lock:
                self.summaries[ds.id] = (keys, stats)
        out = ds.describe()
        out.update(stats)
        out["bytes"] = sum(k[1] for k in keys if k is not None)
        return out

    def forget_missing(self, catalogue: dict[str, Dataset]) -> None:
        """Drop what is kept about datasets and files no longer in the catalogue."""
        paths = {str(p) for ds in catalogue.values() for p in ds.files}
        with self.lock:
            for ds_id in [k for k in self.summaries if k not in catalogue]:
                del self.summaries[ds_id]
            for ds_id in [k for k in self.frames if k not in catalogue]:
                del self.frames[ds_id]
            for path in [p for p in self.files if p not in paths]:
                entry = self.files.pop(path)
                if entry.times is not None:
                    self.cached_times -= len(entry.times)

    def candles(self, ds: Dataset) -> pd.DataFrame:
        """Every candle of a dataset, checked as for a backtest; :class:`LoadError` names a bad file."""
        keys = tuple(_file_key(p) for p in ds.files)
        with self.lock:
            hit = self.frames.get(ds.id)
            if hit is not None and hit[0] == keys:
                self.frames.move_to_end(ds.id)
                return hit[1]
        frame, _ = load(ds)
        with self.lock:
            self.frames[ds.id] = (keys, frame)
            self.frames.move_to_end(ds.id)
            while len(self.frames) > 1 and (
                len(self.frames) > self.max_frames
                or sum(len(f) for _, f in self.frames.values()) > self.max_candles
            ):
                self.frames.popitem(last=False)
        return frame


def parse_before(value: str | None) -> int | None:
    """Epoch seconds of a ``before`` query value (epoch seconds or ms, or ISO 8601); ValueError
    with a plain message when it is not a time."""
    if value is None or value == "":
        return None
    t = parse_time_cell(value)
    if t is None or not math.isfinite(t):
        raise ValueError(
            f"before={value!r} is not a time (use epoch seconds or ISO 8601 like 2026-06-14T10:00:00Z)"
        )
    return math.ceil(t)


__all__ = ["Listing", "candle_rows", "newest", "parse_before", "read_times", "summarize"]
