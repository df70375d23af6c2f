"""Loading a year of candles through the Parquet archive, against reading the CSV files.

Writes (once, then reuses) a data folder with the persistence service's row formatter and chunk
plan: ``--assets`` assets of ``--days`` days of 1-minute candles (100 per file), and a month of
one tick a second for one asset (1000 per file). Then, in one run:

- the first load of every dataset (the archive is built from the CSV files on the way);
- the warm load of every dataset (the archive is up to date): the figure that counts, ≤ 3 s for
  a year of 20 assets;
- the CSV reader on ``--csv-assets`` of those datasets, as the baseline (all of them would take
  minutes), and the ratio of the two per candle;
- a month of ticks for one asset, warm (≤ 1 s), and the CSV reader on the same files.

    .venv/bin/python bench/archive.py                       # the year (about 10.5 M candles)
    .venv/bin/python bench/archive.py --assets 2 --days 30  # a quick look

The folder is kept in the system's temporary folder (``--folder`` to choose): generating the year
takes a few minutes, and the next run reuses it.
"""

from __future__ import annotations

import argparse
import calendar
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from quantumflux.files import datasets
from quantumflux.files.columns import header_line
from quantumflux.files.layout import safe_name, stored_file
from quantumflux.files.rows import RowFormatter, SeriesKey, plan
from quantumflux.files.ticks import read_ticks

T0 = calendar.timegm((2025, 6, 1, 0, 0, 0))
SESSION = "20250601T000000Z"
SIZES = {"candles": 100, "ticks": 1000, "payouts": 1000}
TICK_ASSET = "EURUSD_otc"


class Bar:
    """A candle as the writer takes it."""

    __slots__ = ("close", "complete", "high", "low", "open", "ticks", "time", "volume")

    def __init__(self, t: int, o: float, h: float, low: float, c: float, n: int) -> None:
        self.time, self.open, self.high, self.low, self.close = t, o, h, low, c
        self.ticks, self.volume, self.complete = n, None, True


def write_lines(data: Path, key: SeriesKey, lines: list[str]) -> None:
    """Lines of one series into chunk files, as the persistence service cuts them."""
    appends, _ = plan({}, {key: lines}, SIZES)
    for a in appends:
        kind, stored, tf = a.key
        path = stored_file(data, kind, stored, tf, SESSION, a.chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header_line(kind) + "".join(a.lines), encoding="utf-8")


def candle_lines(minutes: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    close = np.round(1.1 + np.cumsum(rng.integers(-3, 4, minutes)) * 1e-5, 5)
    opens = np.concatenate([[1.1], close[:-1]])
    fmt = RowFormatter()
    lines = []
    for i, (o, c) in enumerate(zip(opens.tolist(), close.tolist(), strict=True)):
        lines.append(fmt.candle(Bar(T0 + 60 * i, o, max(o, c) + 1e-5, min(o, c) - 1e-5, c, 1 + i % 9)))
    return lines


def generate(data: Path, assets: int, days: int) -> None:
    marker = data / ".complete"
    if marker.exists():
        return
    started = time.perf_counter()
    for a in range(assets):
        write_lines(data, ("candles", safe_name(f"ASSET{a:02d}_otc"), 60), candle_lines(days * 1440, a))
        print(f"  wrote asset {a + 1}/{assets} ({time.perf_counter() - started:.0f} s)", flush=True)
    fmt = RowFormatter()
    seconds = 30 * 86_400
    rng = np.random.default_rng(99)
    prices = np.round(1.1 + np.cumsum(rng.integers(-2, 3, seconds)) * 1e-5, 5).tolist()
    ticks = [fmt.tick(T0 + i + 0.25, p) for i, p in enumerate(prices)]
    write_lines(data, ("ticks", safe_name(TICK_ASSET), None), ticks)
    marker.write_text("ok\n")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assets", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--csv-assets", type=int, default=1, help="datasets the CSV baseline reads")
    ap.add_argument("--folder", type=Path, default=None)
    args = ap.parse_args()
    data = args.folder or Path(tempfile.gettempdir()) / f"qf-bench-archive-{args.assets}x{args.days}d"
    print(f"data folder {data} (kept for the next run)")
    generate(data, args.assets, args.days)
    # The 1-minute series as written (the coarser timeframes derived from them are left out).
    catalogue = [ds for ds in datasets.discover(data).values() if ds.timeframe == 60]
    load_all = lambda: sum(len(datasets.load(ds)[0]) for ds in catalogue)  # noqa: E731
    first, candles = timed(load_all)
    warm = min(timed(load_all)[0] for _ in range(3))
    sample = catalogue[: args.csv_assets]
    csv_time, csv_candles = timed(lambda: sum(len(datasets.load(ds, archive=False)[0]) for ds in sample))
    files = sum(len(ds.files) for ds in catalogue)

    tick_files = [p for p in datasets.tick_series(data, TICK_ASSET).files]
    datasets.load_ticks(data, TICK_ASSET)  # brings the tick archive up to date
    tick_warm, ticks = timed(lambda: len(datasets.load_ticks(data, TICK_ASSET)))
    tick_warm = min(tick_warm, timed(lambda: len(datasets.load_ticks(data, TICK_ASSET)))[0])
    tick_csv, _ = timed(lambda: [read_ticks(p) for p in tick_files])

    csv_rate = csv_candles / csv_time
    warm_rate = candles / warm
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)"
    )
    print(f"{len(catalogue)} datasets, {files} files, {candles} candles")
    print(f"first load (archive built from the CSV files): {first:.1f} s")
    print(f"warm load of every dataset:                   {warm:.2f} s ({warm_rate / 1e6:.1f} M candles/s)")
    print(
        f"CSV reader on {len(sample)} dataset(s):                {csv_time:.1f} s ({csv_rate / 1e3:.0f} k candles/s)"
    )
    print(f"ratio archive / CSV reader per candle: {warm_rate / csv_rate:.0f}x")
    print(f"a month of ticks for one asset ({ticks} ticks, {len(tick_files)} files):")
    print(f"  warm {tick_warm:.2f} s; CSV reader {tick_csv:.1f} s; ratio {tick_csv / tick_warm:.0f}x")


if __name__ == "__main__":
    main()
