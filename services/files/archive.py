"""A fast archive beside the CSV files: closed chunks compacted into Parquet, one file a month.

Reading a year of 1-minute candles means about 5 000 small CSV files per asset; parsing them is
what makes research slow. The archive keeps what those files hold, already parsed, in
``{data}/.archive/{TF}_candles/{asset}/{YYYY-MM}.parquet`` (ticks in ``.archive/ticks/{asset}/``),
one file per month of the chunks that start in it. The CSV files stay the record (DESIGN §4): the
archive is a cache that no CSV reader and no layout listing ever looks at, rebuilt from them.

- A chunk goes in once it is closed: a later chunk of the same series exists, or it holds a full
  chunk (``QF_CANDLE_CHUNK`` / ``QF_TICK_CHUNK`` rows). The open tail is read from CSV every time.
- Each month file carries its manifest (every source file's name, size and mtime_ns, and where its
  rows are) in the Parquet metadata, so data and manifest are replaced together. A source file
  that changed, appeared in it or went away makes that month dirty: it is rebuilt from the CSVs.
- A file the quick reader refuses stays out of the archive; the CSV path then raises its
  ``file:line:column`` error exactly as before.
- Writing happens on read and by ``qf data --compact``; each month is written to a temporary file
  and renamed over the old one, so two processes racing each leave a whole, correct file.

The loaded parts are what reading the CSVs gives (the same rows, columns and counts), only
several files at once; :func:`plan` is the pure part that decides what is fresh. A warm load looks
at every source file (its size and mtime) while the month files are read side by side, and makes
one frame from all the rows.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import filterfalse, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

import pandas as pd

from quantumflux.bus.timeframes import file_label
from quantumflux.files.cells import LoadError
from quantumflux.files.layout import parse_name
from quantumflux.files.reader import LoadedFile, read_candles
from quantumflux.files.ticks import read_ticks

log = logging.getLogger("qf.files.archive")

ARCHIVE_FOLDER = ".archive"
META_KEY = b"quantumflux.sources.v1"
# Rows that make a full chunk, as the persistence service cuts them (its settings, same names).
_CHUNK_SETTING = {"candles": ("QF_CANDLE_CHUNK", 100), "ticks": ("QF_TICK_CHUNK", 1000)}
SeriesKind = Literal["candles", "ticks"]


class Entry(NamedTuple):
    """One source file in a month's manifest: what it was when read, and where its rows are.

    A named tuple: a month holds thousands, read on every load, and tuples are quick to make.
    While a series is read they are kept as plain tuples (:data:`Row`)."""

    name: str
    size: int
    mtime_ns: int
    start: int
    length: int
    rows: int
    duplicates: int
    out_of_order: int


Row = tuple[str, int, int, int, int, int, int, int]
"""An :class:`Entry` as a plain tuple, the way manifests are kept while a series is read: the
garbage collector stops tracking plain tuples of numbers and text (not named ones), and a year
holds a hundred thousand of them that every full collection would otherwise walk."""
_START: Final = 3
_LENGTH: Final = 4
_ROWS: Final = 5
_DUPLICATES: Final = 6
_OUT_OF_ORDER: Final = 7


@dataclass(frozen=True)
class Series:
    """The chunk files of one asset's candles at a timeframe, or of its ticks, in file order."""

    root: Path
    kind: SeriesKind
    stored_name: str
    tf: int | None
    files: tuple[Path, ...]

    @property
    def folder(self) -> Path:
        """Where this series' month files live."""
        sub = "ticks" if self.kind == "ticks" else f"{file_label(self.tf or 0)}_candles"
        return self.root / ARCHIVE_FOLDER / sub / self.stored_name


def series_of(
    root: str | os.PathLike[str], kind: SeriesKind, tf: int | None, files: Iterable[Path]
) -> Series:
    """The series of ``files`` (chunk files of one asset, in file order) under the data folder ``root``."""
    paths = tuple(files)
    stored = ""
    if paths:
        folder = paths[0].parent.name
        found = parse_name(folder, paths[0].name, paths[0])
        stored = found.stored_name if found else ""
    return Series(Path(root), kind, stored, tf, paths)


# --- the pure part -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What is fresh in the archive and what has to be read from CSV."""

    fresh: dict[str, tuple[str, Row]]
    """Source files whose rows the archive holds as they are now: name → (month, entry)."""
    dirty: frozenset[str]
    """Months to rebuild: a source changed, went away, or the file could not be read."""
    to_read: tuple[str, ...]
    """Files to read from CSV, in file order (the open tail among them)."""


def plan(
    current: Mapping[str, tuple[int, int]], manifests: Mapping[str, Sequence[Row] | None], order: list[str]
) -> Plan:
    """Which months are still true to the files (``current``: name → (size, mtime_ns)) and which
    files must be read. A month whose manifest could not be read (None) is dirty."""
    fresh: dict[str, tuple[str, Row]] = {}
    dirty = set()
    for month, entries in manifests.items():
        if entries is None or not _unchanged(current, entries):
            dirty.add(month)
            continue
        fresh.update(zip(map(_name, entries), zip(repeat(month), entries), strict=True))
    return Plan(fresh, frozenset(dirty), tuple(filterfalse(fresh.__contains__, order)))


_name = itemgetter(0)


def _unchanged(current: Mapping[str, tuple[int, int]], entries: Sequence[Row]) -> bool:
    """Every file of a manifest is still there with the size and mtime it had when archived."""
    # A year holds a hundred thousand files: the comparison runs in C, one list against another.
    now = list(map(current.get, map(_name, entries)))
    return now == list(zip(map(itemgetter(1), entries), map(itemgetter(2), entries), strict=True))


def month_of(epoch_seconds: float) -> str:
    """``YYYY-MM`` (UTC) of a time: the month file a chunk starting then goes to."""
    return time.strftime("%Y-%m", time.gmtime(int(epoch_seconds // 1)))


def _months_between(months: Iterable[str], start: float | None, end: float | None) -> set[str]:
    # A chunk is filed under the month of its first row, so the month before ``start`` may hold
    # rows after it: keep it too.
    lo = month_of(start - 32 * 86_400) if start is not None else ""
    hi = month_of(end) if end is not None else "9999-99"
    return {m for m in months if lo <= m <= hi}


# --- the shell: files, Parquet ------------------------------------------------------------------


def _read_part(kind: SeriesKind, path: Path) -> LoadedFile:
    if kind == "candles":
        return read_candles(path)
    frame = read_ticks(path)
    ts = frame["ts"].to_numpy()
    out_of_order = int((ts[1:] < ts[:-1]).sum()) if len(ts) > 1 else 0
    return LoadedFile(frame, len(frame), 0, out_of_order)


def _time_column(kind: SeriesKind) -> str:
    return "time" if kind == "candles" else "ts"


def _chunk_size(kind: SeriesKind) -> int:
    name, default = _CHUNK_SETTING[kind]
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _stat(paths: Iterable[Path], names: list[str]) -> dict[str, tuple[int, int]]:
    out = {}
    for p, name in zip(paths, names, strict=True):
        try:
            st = os.stat(p)
        except OSError:
            continue  # gone since it was listed: the CSV path says so when it reads it
        out[name] = (st.st_size, st.st_mtime_ns)
    return out


def read_manifests(folder: Path) -> dict[str, list[Entry] | None]:
    """Each month file's manifest (None when the file cannot be read), by month."""
    raw = {m: _open_month(folder / f"{m}.parquet", False)[0] for m in _month_names(folder)}
    return {m: None if rows is None else list(map(Entry._make, rows)) for m, rows in _parse(raw).items()}


def _parse(raw: Mapping[str, bytes | None]) -> dict[str, list[Row] | None]:
    out: dict[str, list[Row] | None] = {}
    for month, text in raw.items():
        try:
            rows = [] if text is None else json.loads(text)
            if not all(map(len(Entry._fields).__eq__, map(len, rows))):
                raise ValueError("a manifest row with the wrong number of fields")
            out[month] = None if text is None else list(map(tuple, rows))
        except (ValueError, TypeError):
            log.warning("the manifest of archive month %s cannot be read: it is rebuilt", month)
            out[month] = None
    return out


def _month_names(folder: Path) -> list[str]:
    """The months that have a file in ``folder``, in order."""
    try:
        return sorted(n[: -len(".parquet")] for n in os.listdir(folder) if n.endswith(".parquet"))
    except OSError:
        return []


def _open_month(path: Path, with_rows: bool) -> tuple[bytes | None, Any]:
    """A month file's manifest and, when asked, its rows, both from one opening of the file (so
    they belong together even if another program replaces the file meanwhile)."""
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as f:
            raw = (f.schema_arrow.metadata or {}).get(META_KEY)
            if raw is None:  # written by an older version: rebuilt without a word
                return None, None
            return raw, f.read(use_threads=False).replace_schema_metadata(None) if with_rows else None
    except (OSError, ValueError) as exc:
        log.warning("archive file %s/%s cannot be read (%s): it is rebuilt", path.parent.name, path.name, exc)
        return None, None


class _Changed(Exception):
    """A month file was replaced by another program between reading its manifest and its rows."""


def _read_month(folder: Path, month: str, expected: bytes | None) -> Any:
    """A month's rows, read with its manifest from the same file; :class:`_Changed` when that
    manifest is not the one the plan was made from."""
    manifest, table = _open_month(folder / f"{month}.parquet", True)
    if expected is None or manifest != expected:
        raise _Changed(month)
    return table


def _as_table(frame: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_month(folder: Path, month: str, frame: Any, entries: list[Entry]) -> None:
    """Write one month file whole: to a temporary name first, then renamed over the old one."""
    import pyarrow.parquet as pq

    table = _as_table(frame).replace_schema_metadata({META_KEY: json.dumps([list(e) for e in entries])})
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{month}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        pq.write_table(table, tmp, compression="lz4")
        os.replace(tmp, folder / f"{month}.parquet")
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class _Work:
    """One pass over a series: what was found, read and rebuilt."""

    series: Series
    names: list[str]
    current: dict[str, tuple[int, int]]
    manifests: dict[str, bytes | None]
    plan: Plan
    read: dict[str, LoadedFile] = field(default_factory=dict)
    months: dict[str, Any] = field(default_factory=dict)  # month → Arrow table, once read or written

    def table(self, month: str) -> Any:
        if month not in self.months:
            self.months[month] = _read_month(self.series.folder, month, self.manifests.get(month))
        return self.months[month]


def _read_sources(work: _Work) -> dict[str, list[tuple[int, str, LoadedFile]]]:
    """Read every file the plan names; the closed ones that read, by the month they start in."""
    series = work.series
    index = {name: i for i, name in enumerate(work.names)}
    last = series.files[-1].name if series.files else ""
    full = _chunk_size(series.kind)
    placed: dict[str, list[tuple[int, str, LoadedFile]]] = {}
    for name in work.plan.to_read:
        if name not in work.current:
            continue
        try:
            part = _read_part(series.kind, series.files[index[name]])
        except LoadError:
            continue  # stays on the CSV path, which reports it
        work.read[name] = part
        if (name == last and part.rows < full) or not len(part.candles):
            continue  # the open tail (or an empty chunk): read from CSV every time
        month = month_of(float(part.candles[_time_column(series.kind)].iloc[0]))
        placed.setdefault(month, []).append((index[name], name, part))
    return placed


def _rebuild(work: _Work, placed: dict[str, list[tuple[int, str, LoadedFile]]]) -> None:
    """Write every month that is dirty or gets new files; update the plan's fresh entries."""
    series = work.series
    index = {name: i for i, name in enumerate(work.names)}
    for month in sorted(work.plan.dirty | set(placed)):
        members: list[tuple[int, str, Any, tuple[int, int, int]]] = []
        kept = [(name, e) for name, (m, e) in work.plan.fresh.items() if m == month]
        if kept:  # a clean month that gets new files keeps the rows it has
            old = work.table(month)
            for name, e in kept:
                rows = old.slice(e[_START], e[_LENGTH]).to_pandas()
                members.append((index[name], name, rows, (e[_ROWS], e[_DUPLICATES], e[_OUT_OF_ORDER])))
        for i, name, part in placed.get(month, []):
            members.append((i, name, part.candles, (part.rows, part.duplicates, part.out_of_order)))
        members.sort(key=lambda m: m[0])
        path = series.folder / f"{month}.parquet"
        if not members:
            path.unlink(missing_ok=True)
            work.months.pop(month, None)
            continue
        entries, start = [], 0
        for _, name, rows, (n, dup, ooo) in members:
            size, mtime = work.current[name]
            entries.append(Entry(name, size, mtime, start, len(rows), n, dup, ooo))
            start += len(rows)
        frame = pd.concat([m[2] for m in members], ignore_index=True)
        work.months[month] = _as_table(frame)
        for e in entries:
            work.plan.fresh[e.name] = (month, e)
        try:
            _write_month(series.folder, month, frame, entries)
        except OSError as exc:
            log.warning("cannot write the archive (%s): reading from the CSV files", exc)


# Month files read side by side while a series is brought up to date.
_THREADS = max(2, min(4, os.cpu_count() or 1))


def _prepare(series: Series, wanted: Callable[[str], bool] = lambda month: False) -> _Work:
    """Bring the series' archive up to date with its CSV files; the ``wanted`` months' rows come
    with their manifests."""
    names = [p.name for p in series.files]
    months = _month_names(series.folder)
    with ThreadPoolExecutor(_THREADS) as pool:
        # The month files are independent: read side by side, outside Python's interpreter lock.
        reading = [pool.submit(_open_month, series.folder / f"{m}.parquet", wanted(m)) for m in months]
        # The files are looked at meanwhile, and before any of them is read from CSV: a file
        # that changes after this is seen next time.
        current = _stat(series.files, names)
        opened = {m: r.result() for m, r in zip(months, reading, strict=True)}
    raw = {month: manifest for month, (manifest, _) in opened.items()}
    work = _Work(series, names, current, raw, plan(current, _parse(raw), names))
    work.months.update((month, rows) for month, (_, rows) in opened.items() if rows is not None)
    placed = _read_sources(work)
    if work.plan.dirty or placed:
        _rebuild(work, placed)
    return work


# Tries when another program replaces a month file while it is being read; then plain CSV.
_TRIES = 3


def compact(series: Series) -> int:
    """Bring one series' archive up to date; how many source files it now holds."""
    if not series.files or not series.stored_name:
        return 0
    for _ in range(_TRIES):
        try:
            return len(_prepare(series).plan.fresh)
        except _Changed:
            continue
    return 0


def parts(
    series: Series,
    start: float | None = None,
    end: float | None = None,
    reader: Callable[[Path], LoadedFile] | None = None,
) -> list[LoadedFile]:
    """The series as the CSV reader would give it file by file, as one part (the files' counts
    added up), or part by part when the files' columns differ.

    With ``start``/``end`` (epoch seconds), months wholly outside are left out (rows are not cut:
    the caller does that). A file neither archived nor readable is read with ``reader`` (the CSV
    reader by default), which raises its error.
    """
    read = reader or (lambda p: _read_part(series.kind, p))
    if series.files and series.stored_name:

        def wanted(month: str) -> bool:
            return (start is None and end is None) or bool(_months_between([month], start, end))

        for _ in range(_TRIES):
            try:
                return _parts(_prepare(series, wanted), start, end, read)
            except _Changed:
                continue
    return [read(p) for p in series.files]


def _parts(
    work: _Work, start: float | None, end: float | None, read: Callable[[Path], LoadedFile]
) -> list[LoadedFile]:
    months = {m for m, _ in work.plan.fresh.values()}
    wanted = _months_between(months, start, end) if start is not None or end is not None else months
    out: list[LoadedFile] = []
    run: list[tuple[str, Row]] = []  # archived files in a row, read as one part
    fresh = work.plan.fresh
    for path, name in zip(work.series.files, work.names, strict=True):
        hit = fresh.get(name)
        if hit is not None:
            if hit[0] in wanted:
                run.append(hit)
            continue
        if run:
            out.append(_joined(work, run))
            run = []
        part = work.read.get(name)
        out.append(part if part is not None else read(path))
    if run:
        out.append(_joined(work, run))
    return _in_one(out)


def _joined(work: _Work, run: list[tuple[str, Row]]) -> LoadedFile:
    """One part of archived files in file order: whole stretches of month tables, joined (an
    Arrow table: :func:`_in_one` makes the frame)."""
    import pyarrow as pa

    pieces = []
    month, lo, hi = run[0][0], run[0][1][_START], run[0][1][_START]
    for m, e in run:
        if m != month or e[_START] != hi:
            pieces.append(work.table(month).slice(lo, hi - lo))
            month, lo = m, e[_START]
        hi = e[_START] + e[_LENGTH]
    pieces.append(work.table(month).slice(lo, hi - lo))
    entries = [e for _, e in run]
    return LoadedFile(
        pa.concat_tables(pieces),
        sum(map(itemgetter(_ROWS), entries)),
        sum(map(itemgetter(_DUPLICATES), entries)),
        sum(map(itemgetter(_OUT_OF_ORDER), entries)),
        files=len(entries),
    )


def _in_one(parts: list[LoadedFile]) -> list[LoadedFile]:
    """The parts as one, its frame made once from all the rows (copying a year of candles twice
    costs more than reading it); part by part when their columns differ."""
    import pyarrow as pa

    if not any(isinstance(p.candles, pa.Table) for p in parts):
        return parts
    # An empty file adds no rows, only its counts.
    tables = [_as_table(p.candles) if isinstance(p.candles, pd.DataFrame) else p.candles for p in parts]
    tables = [t.replace_schema_metadata(None) for t in tables if t.num_rows]
    if not tables or any(not t.schema.equals(tables[0].schema) for t in tables):
        return [
            replace(p, candles=p.candles.to_pandas()) if isinstance(p.candles, pa.Table) else p for p in parts
        ]
    rows, duplicates, out_of_order, files = (
        sum(getattr(p, k) for p in parts) for k in ("rows", "duplicates", "out_of_order", "files")
    )
    return [LoadedFile(pa.concat_tables(tables).to_pandas(), rows, duplicates, out_of_order, files)]
