"""Collected broker history on disk: ``data_collect/{TF}_candles/{asset}_{TF}_{session}_{chunk:04d}.csv``.

The folder of the older layout (DESIGN §4), with the columns of the live candle files
(``…,ticks,volume,complete``). A backfill writes here, one page at a time: each page's rows are
appended and fsynced before the next page is asked for, and a time already held is never written
again, so an interrupted run loses nothing it wrote and a second run doubles nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from quantumflux.bus.timeframes import file_label
from quantumflux.files.columns import CANDLE_HEADER, header_line
from quantumflux.files.layout import OLD_ROOT, parse_iso_utc, safe_name
from quantumflux.files.rows import Position, RowFormatter, SeriesKey, plan

CHUNK_ROWS = 100
_SESSION = r"\d{8}T\d{6}Z"


@dataclass(frozen=True, slots=True)
class CollectedCandle:
    """One broker candle as written: open time (UTC seconds), prices, counts and whether it is whole."""

    time: int
    open: float
    high: float
    low: float
    close: float
    ticks: int
    volume: int | None
    complete: bool = True


def collect_folder(data_dir: str | os.PathLike[str], tf: int) -> Path:
    """Folder of one timeframe's collected candles: ``data_collect/1M_candles``."""
    return Path(data_dir) / OLD_ROOT / f"{file_label(tf)}_candles"


def collect_file(data_dir: str | os.PathLike[str], asset: str, tf: int, session: str, chunk: int) -> Path:
    """Path of one chunk of an asset's collected candles of one timeframe in one session."""
    label = file_label(tf)
    return collect_folder(data_dir, tf) / f"{safe_name(asset)}_{label}_{session}_{chunk:04d}.csv"


def collected_files(data_dir: str | os.PathLike[str], asset: str, tf: int) -> list[Path]:
    """The files this layout wrote for ``asset`` and ``tf``, by session and chunk."""
    folder = collect_folder(data_dir, tf)
    name = re.compile(rf"{re.escape(safe_name(asset))}_{file_label(tf)}_{_SESSION}_\d{{4,}}\.csv")
    try:
        with os.scandir(folder) as it:
            found = [Path(e.path) for e in it if name.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(found)


def collected_times(data_dir: str | os.PathLike[str], asset: str, tf: int) -> set[int]:
    """Every candle time already held for ``asset`` and ``tf`` in the collected files.

    Only whole lines count: a line cut short by a crash is not held, so the next run asks for
    that candle again (and the loader ignores the cut line).
    """
    held: set[int] = set()
    cells = len(CANDLE_HEADER)
    for path in collected_files(data_dir, asset, tf):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.split("\n")[1:-1]:  # the header, and what follows the last newline
            row = line.split(",")
            if len(row) != cells:
                continue
            try:
                held.add(int(parse_iso_utc(row[0])))
            except ValueError:
                continue
    return held


class CollectWriter:
    """Appends one series' pages to numbered chunk files of this run, fsynced before returning."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        asset: str,
        tf: int,
        session: str,
        chunk_rows: int = CHUNK_ROWS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.asset = asset
        self.tf = tf
        self.session = session
        self.chunk_rows = chunk_rows
        self._position: Position | None = None
        self._format = RowFormatter()
        self.rows_written = 0

    def write(self, candles: Iterable[CollectedCandle]) -> int:
        """Append ``candles`` (in the order given) and fsync; returns how many rows were written."""
        lines = [self._format.candle(c) for c in candles]
        if not lines:
            return 0
        key: SeriesKey = ("candles", safe_name(self.asset), self.tf)
        positions = {key: self._position} if self._position is not None else {}
        appends, moved = plan(positions, {key: lines}, {"candles": self.chunk_rows})
        for a in appends:
            path = collect_file(self.data_dir, self.asset, self.tf, self.session, a.chunk)
            path.parent.mkdir(parents=True, exist_ok=True)
            _append(path, a.lines, header=a.rows_before == 0)
        self._position = moved[key]
        self.rows_written += len(lines)
        return len(lines)


def _append(path: Path, lines: tuple[str, ...], header: bool) -> None:
    with path.open("a", encoding="utf-8") as f:
        if header:
            f.write(header_line("candles"))
        f.write("".join(lines))
        f.flush()
        os.fsync(f.fileno())
