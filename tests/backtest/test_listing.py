"""The dataset list's counts and times (against an independent count), its per-file cache, and
the newest-candles selection the web app pages with."""

from __future__ import annotations

import calendar
import itertools
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantumflux.backtest import listing
from quantumflux.files import datasets
from quantumflux.files.layout import candle_file, iso_utc
from quantumflux.files.reader import LoadError, read_candles

T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "backtest"


def write_chunk(path: Path, times: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["timestamp,open,high,low,close,ticks"]
    rows += [f"{iso_utc(t, False)},1.1,1.1,1.1,1.1,2" for t in times]
    path.write_text("\n".join(rows) + "\n")


def expected(times: list[int], step: int) -> dict[str, object]:
    """The listing's figures, counted by hand: distinct times, ends, holes longer than a step."""
    t = sorted(set(times))
    gaps = [(a, b) for a, b in itertools.pairwise(t) if b - a > step]
    missing = sum(len(range(a + step, b, step)) for a, b in gaps)
    stamp = datetime.fromtimestamp
    return {
        "rows": len(t),
        "start_time": t[0],
        "end_time": t[-1],
        "start": stamp(t[0], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": stamp(t[-1], UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gaps": len(gaps),
        "missing_candles": missing,
    }


def two_sessions(data: Path) -> list[int]:
    """EURUSD_otc 1m in three chunks: an overlap of 10 candles between sessions and two holes."""
    minute = [T0 + 60 * i for i in range(400)]
    write_chunk(candle_file(data, "EURUSD_otc", 60, "20260614T100000Z", 0), minute[:100])
    write_chunk(candle_file(data, "EURUSD_otc", 60, "20260614T100000Z", 1), minute[100:200])
    write_chunk(
        candle_file(data, "EURUSD_otc", 60, "20260614T140000Z", 0),
        minute[190:200] + minute[205:300] + minute[301:400],
    )
    return minute[:200] + minute[205:300] + minute[301:400]


def test_the_list_counts_candles_times_and_gaps(tmp_path: Path) -> None:
    times = two_sessions(tmp_path)
    write_chunk(
        candle_file(tmp_path, "GBPUSD_otc", 300, "20260614T100000Z", 0), [T0 + 300 * i for i in range(7)]
    )
    lister = listing.Listing()
    rows = {d["id"]: d for d in (lister.describe(ds) for ds in datasets.discover(tmp_path).values())}
    eur = rows["EURUSD_otc-1m"]
    assert {k: eur[k] for k in expected(times, 60)} == expected(times, 60)
    assert eur["gaps"] == 2 and eur["missing_candles"] == 6
    assert (eur["timeframe"], eur["timeframe_seconds"], eur["asset"], eur["files"]) == (
        "1m",
        60,
        "EURUSD_otc",
        3,
    )
    assert eur["problem"] is None
    gbp = rows["GBPUSD_otc-5m"]
    assert (gbp["rows"], gbp["gaps"], gbp["timeframe"], gbp["timeframe_seconds"]) == (7, 0, "5m", 300)
    # The count is the one a backtest loads.
    candles, report = datasets.load(datasets.discover(tmp_path)["EURUSD_otc-1m"])
    assert eur["rows"] == len(candles) and eur["gaps"] == report.gap_count


def test_only_changed_files_are_read_again(tmp_path: Path) -> None:
    times = two_sessions(tmp_path)
    lister = listing.Listing()
    ds = datasets.discover(tmp_path)["EURUSD_otc-1m"]
    first = lister.describe(ds)
    assert lister.files_read == 3
    assert lister.describe(ds) == first and lister.files_read == 3
    # The chunk being written grows by one candle: only that file is read again.
    newest = candle_file(tmp_path, "EURUSD_otc", 60, "20260614T140000Z", 0)
    with newest.open("a") as fh:
        fh.write(f"{iso_utc(T0 + 60 * 400, False)},1.1,1.1,1.1,1.1,2\n")
    later = time.time() + 5
    os.utime(newest, (later, later))
    grown = lister.describe(ds)
    assert lister.files_read == 4
    assert grown["rows"] == first["rows"] + 1 == len(set(times)) + 1
    assert grown["end_time"] == T0 + 60 * 400


def test_a_small_cache_still_gives_the_same_figures(tmp_path: Path) -> None:
    times = two_sessions(tmp_path)
    lister = listing.Listing(max_times=150)
    ds = datasets.discover(tmp_path)["EURUSD_otc-1m"]
    for _ in range(2):
        out = lister.describe(ds)
        lister.summaries.clear()
        assert out["rows"] == len(set(times))
    assert lister.cached_times <= 150 or len(lister.files) == 1


def test_a_file_with_unreadable_times_is_named_and_the_rest_counted(tmp_path: Path) -> None:
    write_chunk(
        candle_file(tmp_path, "EURUSD_otc", 60, "20260614T100000Z", 0), [T0 + 60 * i for i in range(10)]
    )
    bad = candle_file(tmp_path, "EURUSD_otc", 60, "20260614T100000Z", 1)
    bad.write_text((FIX / "bad_time.csv").read_text())
    out = listing.Listing().describe(datasets.discover(tmp_path)["EURUSD_otc-1m"])
    assert out["rows"] == 10
    assert out["problem"] == f"{bad.name}:3:1: 'yesterday' is not a time (use ISO 8601, epoch seconds or ms)"


@pytest.mark.parametrize("path", sorted(FIX.glob("*.csv")), ids=lambda p: p.name)
def test_the_quick_time_reader_agrees_with_the_loader(path: Path) -> None:
    try:
        want: list[int] | str = read_candles(path).candles["time"].tolist()
    except LoadError as exc:
        want = str(exc)
    try:
        got: list[int] | str = sorted(set(listing.read_times(path).tolist()))
    except LoadError as exc:
        got = str(exc)
    if isinstance(want, str) and not isinstance(got, str):
        # The list reads only times; a bad price is found when the data is loaded.
        assert any(w in want for w in ("number", "high", "empty", "values where")), want
    else:
        assert got == want


def test_newest_candles_and_paging_back() -> None:
    t = T0 + 60 * np.array([0, 1, 2, 5, 6, 7, 8, 9])
    frame = pd.DataFrame({"time": t, "close": np.arange(8.0)})
    part, more = listing.newest(frame, 3)
    assert part["time"].tolist() == t[-3:].tolist() and more
    part, more = listing.newest(frame, 3, before=int(t[5]))
    assert part["time"].tolist() == t[2:5].tolist() and more
    part, more = listing.newest(frame, 10, before=int(t[2]) + 1)
    assert part["time"].tolist() == t[:3].tolist() and not more
    part, more = listing.newest(frame, 10, before=T0)
    assert len(part) == 0 and not more
    part, more = listing.newest(frame, 100)
    assert len(part) == 8 and not more


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (str(T0), T0),
        (str(T0 * 1000), T0),
        ("2026-06-14T10:00:00Z", T0),
        ("2026-06-14T12:00:30+02:00", T0 + 30),
        (f"{T0}.5", T0 + 1),
        (None, None),
    ],
)
def test_before_reads_epoch_and_iso(text: str | None, want: int | None) -> None:
    assert listing.parse_before(text) == want


@pytest.mark.parametrize("text", ["yesterday", "nan", "soon", "inf", "1e400"])
def test_before_that_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time"):
        listing.parse_before(text)


def test_loaded_datasets_are_kept_until_a_file_changes_and_within_bounds(tmp_path: Path) -> None:
    two_sessions(tmp_path)
    write_chunk(
        candle_file(tmp_path, "GBPUSD_otc", 60, "20260614T100000Z", 0), [T0 + 60 * i for i in range(50)]
    )
    catalogue = datasets.discover(tmp_path)
    eur, gbp = catalogue["EURUSD_otc-1m"], catalogue["GBPUSD_otc-1m"]
    lister = listing.Listing(max_candles=400)
    frame = lister.candles(eur)
    assert frame["time"].tolist() == datasets.load(eur)[0]["time"].tolist()
    assert lister.candles(eur) is frame  # kept
    lister.candles(gbp)
    assert list(lister.frames) == ["GBPUSD_otc-1m"]  # both together are more than 400 candles
    gbp_file = gbp.files[0]
    with gbp_file.open("a") as fh:
        fh.write(f"{iso_utc(T0 + 60 * 50, False)},1.1,1.1,1.1,1.1,2\n")
    later = time.time() + 5
    os.utime(gbp_file, (later, later))
    assert len(lister.candles(gbp)) == 51  # read again after the change


def test_what_is_kept_about_removed_files_is_dropped(tmp_path: Path) -> None:
    two_sessions(tmp_path)
    lister = listing.Listing()
    catalogue = datasets.discover(tmp_path)
    for ds in catalogue.values():
        lister.describe(ds)
    assert len(lister.files) == 3
    catalogue["EURUSD_otc-1m"].files[0].unlink()
    catalogue = datasets.discover(tmp_path)
    lister.forget_missing(catalogue)
    assert len(lister.files) == 2 and lister.cached_times == 100 + 204
    left = {T0 + 60 * i for i in [*range(100, 200), *range(205, 300), *range(301, 400)]}
    assert lister.describe(catalogue["EURUSD_otc-1m"])["rows"] == len(left)
