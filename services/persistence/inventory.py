"""``qf data``: what is on disk per asset and timeframe (files, rows, first and last time, gaps)."""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from services.bus.timeframes import label
from services.persistence.layout import DataFile, iso_utc, iter_data_files

# Ticks this far apart (seconds) count as a gap in the tick record.
TICK_GAP = 60.0


@dataclass
class Summary:
    """One asset's candles of one timeframe, or its ticks, as found on disk."""

    asset: str
    kind: str
    timeframe: str
    files: int = 0
    sessions: int = 0
    rows: int = 0
    first: str | None = None
    last: str | None = None
    gaps: int = 0
    missing_candles: int = 0
    largest_gap_seconds: float = 0.0
    duplicates: int = 0
    out_of_order: int = 0
    bad_rows: int = 0
    paths: list[str] = field(default_factory=list)


def summarize(asset: str, kind: str, tf: int | None, times: list[float], bad: int) -> Summary:
    """Rows, span and gaps of one series from its row times in file order (pure)."""
    s = Summary(asset=asset, kind=kind, timeframe=label(tf) if tf else "ticks", rows=len(times), bad_rows=bad)
    if not times:
        return s
    s.out_of_order = sum(1 for a, b in itertools.pairwise(times) if b < a)
    ordered = sorted(times)
    s.first = iso_utc(ordered[0], millis=tf is None)
    s.last = iso_utc(ordered[-1], millis=tf is None)
    step = float(tf) if tf else TICK_GAP
    for a, b in itertools.pairwise(ordered):
        d = b - a
        if tf and d == 0:
            s.duplicates += 1
        elif d > step:
            s.gaps += 1
            s.largest_gap_seconds = max(s.largest_gap_seconds, d)
            if tf:
                s.missing_candles += int(d // tf) - 1
    return s


def _read_times(path: Path) -> tuple[list[float], int]:
    times: list[float] = []
    bad = 0
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            try:
                times.append(datetime.fromisoformat(row[0]).timestamp())
            except (ValueError, IndexError):
                bad += 1
    return times, bad


def inventory(data_dir: Path) -> list[Summary]:
    """Summaries of every series under ``data_dir``, by asset, then ticks and timeframes."""
    groups: dict[tuple[str, str, int], list[DataFile]] = {}
    for df in iter_data_files(data_dir):
        groups.setdefault((df.asset, df.kind, df.tf or 0), []).append(df)
    out = []
    for (asset, kind, tf), files in sorted(groups.items()):
        files.sort(key=lambda d: (d.session, d.chunk))
        times: list[float] = []
        bad = 0
        for df in files:
            try:
                t, b = _read_times(df.path)
            except OSError:
                bad += 1
                continue
            times += t
            bad += b
        s = summarize(asset, kind, tf or None, times, bad)
        s.files = len(files)
        s.sessions = len({d.session for d in files})
        s.paths = [str(d.path.relative_to(data_dir)) for d in files]
        out.append(s)
    return out


def _short(iso: str | None) -> str:
    # 2026-11-22T03:05:07.250Z → 2026-11-22 03:05:07: easier to read in a table.
    return iso[:19].replace("T", " ") if iso else "-"


def _gap_text(s: Summary) -> str:
    if not s.gaps:
        return "none"
    if s.kind == "candles":
        return f"{s.gaps} ({s.missing_candles} missing)"
    return f"{s.gaps} (longest {s.largest_gap_seconds:.0f} s)"


def render(summaries: Iterable[Summary], data_dir: Path) -> None:
    """Print the summaries as a table."""
    from rich.console import Console
    from rich.table import Table

    rows = list(summaries)
    # Piped into a file or another tool there is no terminal width to fit: keep every column whole.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not rows:
        console.print(f"No data files under {data_dir} yet.")
        return
    table = Table(title=f"Data in {data_dir}")
    table.add_column("Asset", no_wrap=True)
    table.add_column("TF", no_wrap=True)
    table.add_column("Files", justify="right")
    table.add_column("Rows", justify="right")
    table.add_column("First (UTC)", no_wrap=True)
    table.add_column("Last (UTC)", no_wrap=True)
    table.add_column("Gaps")
    for s in rows:
        table.add_row(
            s.asset, s.timeframe, str(s.files), str(s.rows), _short(s.first), _short(s.last), _gap_text(s)
        )
    console.print(table)
    odd = [s for s in rows if s.bad_rows or s.duplicates or s.out_of_order]
    for s in odd:
        console.print(
            f"[yellow]{s.asset} {s.timeframe}: {s.bad_rows} unreadable rows, "
            f"{s.duplicates} repeated candles, {s.out_of_order} rows out of order[/yellow]"
        )


def main(as_json: bool = False, data_dir: Path | None = None) -> int:
    """``qf data``: print what is on disk; 0 always (an empty folder is not an error)."""
    if data_dir is None:
        from services.bus.config import BusSettings, check_environment

        check_environment()
        data_dir = BusSettings().data_dir
    found = inventory(data_dir)
    if as_json:
        print(json.dumps({"data_dir": str(data_dir), "series": [asdict(s) for s in found]}, indent=2))
    else:
        render(found, data_dir)
    return 0
