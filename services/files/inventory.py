"""What is on disk per asset and timeframe (files, rows, first and last time, gaps, incomplete
candles), and the datasets made of it (live and collected merged, coarser timeframes derived):
``qf data``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from quantumflux.bus.timeframes import label
from quantumflux.files.cells import LoadError
from quantumflux.files.datasets import discover, load
from quantumflux.files.gaps import span_of
from quantumflux.files.layout import DataFile, iso_utc, iter_data_files
from quantumflux.files.reader import incomplete_rows, row_times

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
    incomplete: int = 0
    paths: list[str] = field(default_factory=list)


def summarize(
    asset: str, kind: str, tf: int | None, times: list[float] | npt.NDArray[np.float64], bad: int
) -> Summary:
    """Rows, span and gaps of one series from its row times in file order (pure).

    Repeated times count as duplicates for candles only: ticks may share a millisecond.
    """
    span = span_of(np.asarray(times, dtype=np.float64), float(tf) if tf else TICK_GAP, candles=tf is not None)
    s = Summary(asset=asset, kind=kind, timeframe=label(tf) if tf else "ticks", rows=span.rows, bad_rows=bad)
    if span.first is None or span.last is None:
        return s
    s.first = iso_utc(span.first, millis=tf is None)
    s.last = iso_utc(span.last, millis=tf is None)
    s.out_of_order = span.out_of_order
    s.duplicates = span.repeated if tf else 0
    s.gaps, s.missing_candles, s.largest_gap_seconds = span.gaps, span.missing, span.largest_gap
    return s


def _series_times(files: list[DataFile], candles: bool) -> tuple[npt.NDArray[np.float64], int, int]:
    """Every row time of a series' files in file order, the rows (or files) not read, and the
    incomplete candles."""
    parts: list[npt.NDArray[np.float64]] = []
    bad = incomplete = 0
    for df in files:
        try:
            found = row_times(df.path, candles=candles)
            incomplete += incomplete_rows(df.path) if candles else 0
        except LoadError:
            bad += 1  # a file whose header cannot be read counts as one unreadable row
            continue
        parts.append(found.times)
        bad += found.bad
    return (np.concatenate(parts) if parts else np.empty(0, np.float64)), bad, incomplete


def inventory(data_dir: Path) -> list[Summary]:
    """Summaries of every series under ``data_dir``, by asset, then ticks and timeframes."""
    groups: dict[tuple[str, str, int], list[DataFile]] = {}
    for df in iter_data_files(data_dir):
        if df.kind != "payouts":  # payout changes are not market data to count
            groups.setdefault((df.asset, df.kind, df.tf or 0), []).append(df)
    out = []
    for (asset, kind, tf), files in sorted(groups.items()):
        files.sort(key=lambda d: (d.session, d.chunk))
        times, bad, incomplete = _series_times(files, candles=kind == "candles")
        s = summarize(asset, kind, tf or None, times, bad)
        s.incomplete = incomplete
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
    for name in ("Asset", "TF", "Files", "Rows", "First (UTC)", "Last (UTC)", "Gaps", "Incomplete"):
        right = name in ("Files", "Rows", "Incomplete")
        table.add_column(
            name, justify="right" if right else "left", no_wrap=name in ("Asset", "TF") or "UTC" in name
        )
    for s in rows:
        table.add_row(
            s.asset,
            s.timeframe,
            str(s.files),
            str(s.rows),
            _short(s.first),
            _short(s.last),
            _gap_text(s),
            str(s.incomplete) if s.kind == "candles" else "-",
        )
    console.print(table)
    for s in rows:
        if s.bad_rows or s.duplicates or s.out_of_order:
            console.print(
                f"[yellow]{s.asset} {s.timeframe}: {s.bad_rows} unreadable rows, "
                f"{s.duplicates} repeated candles, {s.out_of_order} rows out of order[/yellow]"
            )


def dataset_rows(data_dir: Path) -> list[dict[str, Any]]:
    """The datasets a backtest can name, each with where its candles come from.

    ``differences`` counts the times where a complete live candle and the broker's disagree: it
    is measured (both sides read) for merged series only, and is None for the others.
    """
    rows = []
    for ds in discover(data_dir).values():
        row = ds.describe() | {"differences": None}
        del row["bytes"]
        if ds.source == "live+backfill" and not ds.derived_from:
            try:
                merged = load(ds)[1].merged
                row["differences"] = merged.differences if merged else 0
            except LoadError:
                pass  # the unreadable file is named by the backtest that loads it
        rows.append(row)
    return rows


def render_datasets(rows: list[dict[str, Any]]) -> None:
    """Print the datasets as a table."""
    from rich.console import Console
    from rich.table import Table

    if not rows:
        return
    console = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title="Datasets (one series per asset and timeframe)")
    for name in ("Dataset", "Source", "Derived from", "Differences"):
        table.add_column(name, no_wrap=name == "Dataset")
    for r in rows:
        diff = "-" if r["differences"] is None else str(r["differences"])
        table.add_row(r["id"], r["source"], r["derived_from"] or "-", diff)
    console.print(table)


def main(as_json: bool = False, data_dir: Path | None = None) -> int:
    """``qf data``: print what is on disk; 0 always (an empty folder is not an error)."""
    if data_dir is None:
        from quantumflux.bus.config import BusSettings, check_environment

        check_environment()
        data_dir = BusSettings().data_dir
    found = inventory(data_dir)
    sets = dataset_rows(data_dir)
    if as_json:
        out = {"data_dir": str(data_dir), "series": [asdict(s) for s in found], "datasets": sets}
        print(json.dumps(out, indent=2))
    else:
        render(found, data_dir)
        render_datasets(sets)
    return 0
