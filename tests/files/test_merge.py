"""One series per asset and timeframe: live and collected candles merged, coarser timeframes
derived from finer ones, on real files, and seen by ``qf data`` and ``qf backtest``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantumflux.bus.timeframes import BROKER_DAY_OFFSET, bucket_start
from quantumflux.candles.aggregator import Aggregator, Rules
from quantumflux.files import datasets
from quantumflux.files.collect import CollectedCandle, CollectWriter
from quantumflux.files.merge import can_derive, derivations, derive, merge

from .chunks import Candle, Writer, walk

T0 = 1_781_438_400  # 2026-06-14 12:00 UTC: a whole hour
ROOT = Path(__file__).resolve().parents[2]


def frame(rows: list[tuple[float, ...]]) -> pd.DataFrame:
    """Candles from (time, open, high, low, close, ticks, volume, complete) rows."""
    cols = ["time", "open", "high", "low", "close", "ticks", "volume", "complete"]
    out = pd.DataFrame(rows, columns=cols)
    return out.astype({"time": np.int64, "ticks": np.int64, "complete": np.int64, "volume": np.float64})


def collect(data: Path, asset: str, tf: int, candles: list[Candle]) -> None:
    writer = CollectWriter(data, asset, tf, "20260615T000000Z", chunk_rows=7)
    writer.write(
        CollectedCandle(int(c.time), c.open, c.high, c.low, c.close, 0, 40 + i) for i, c in enumerate(candles)
    )


def qf(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    return subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---- merge rules ---------------------------------------------------------------------------------


@pytest.fixture
def both_sides(tmp_path: Path) -> Path:
    """Live 1m candles for minutes 10..39, the broker's for 0..29: 20 minutes held by both.

    Minute 12 is incomplete live (the broker's replaces it); minutes 15 and 16 disagree (a complete
    live candle stays, and each disagreement is counted)."""
    live = walk(30, T0 + 600, 60, seed=3)
    live[2] = Candle(live[2].time, 1.2, 1.3, 1.1, 1.25, 4, None, complete=False)
    broker = walk(30, T0, 60, seed=4)
    for i, c in enumerate(live[:20]):
        if i not in (2, 5, 6):
            broker[10 + i] = c
    Writer(tmp_path, candle_chunk=8).candles("EURUSD_otc", 60, live)
    collect(tmp_path, "EURUSD_otc", 60, broker)
    return tmp_path


def test_live_complete_first_incomplete_live_replaced_and_differences_counted(both_sides: Path) -> None:
    catalogue = datasets.discover(both_sides)
    ds = catalogue["EURUSD_otc-1m"]
    assert ds.source == "live+backfill" and "EURUSD_otc-1m-collect" not in catalogue
    assert len(ds.collected) == 5 and len(ds.files) == 4 + 5
    assert datasets.lookup(catalogue, "EURUSD_otc-1m-collect") is ds  # the older id still finds it
    candles, report = datasets.load(ds)
    t = candles["time"].to_numpy()
    assert t.tolist() == [T0 + 60 * i for i in range(40)]  # minutes 0..39, each once
    live = walk(30, T0 + 600, 60, seed=3)
    broker = walk(30, T0, 60, seed=4)
    by_time = candles.set_index("time")
    assert by_time.loc[T0 + 60 * 12, "close"] == broker[12].close  # incomplete live gave way
    assert by_time.loc[T0 + 60 * 12, "complete"] == 1 and by_time.loc[T0 + 60 * 12, "volume"] == 52
    assert by_time.loc[T0 + 60 * 15, "close"] == live[5].close  # complete live kept
    assert math.isnan(by_time.loc[T0 + 60 * 15, "volume"])
    assert by_time.loc[T0 + 60 * 3, "close"] == broker[3].close  # only the broker has it
    assert by_time.loc[T0 + 60 * 35, "close"] == live[25].close  # only live has it
    merged = report.merged
    assert merged is not None and (merged.both, merged.replaced, merged.differences) == (20, 1, 2)
    [first, second] = merged.listed
    assert (first.asset, first.tf, first.time) == ("EURUSD_otc", 60, T0 + 60 * 15)
    assert first.live == (live[5].open, live[5].high, live[5].low, live[5].close)
    assert first.collected == (broker[15].open, broker[15].high, broker[15].low, broker[15].close)
    assert second.time == T0 + 60 * 16
    assert report.as_dict()["differences"] == 2 and report.candles == 40 and report.gap_count == 0


def test_merge_is_exact_within_the_tolerance_and_keeps_one_row_per_time() -> None:
    a = frame([(T0, 1.1, 1.2, 1.0, 1.15, 3, np.nan, 1), (T0 + 60, 1.1, 1.2, 1.0, 1.15, 3, np.nan, 1)])
    b = frame(
        [(T0, 1.1 * (1 + 1e-12), 1.2, 1.0, 1.15, 0, 9, 1), (T0 + 60, 1.1, 1.2, 1.0, 1.1500001, 0, 9, 1)]
    )
    out, report = merge(a, b, "A", 60)
    assert out["time"].tolist() == [T0, T0 + 60] and report.differences == 1
    assert report.listed[0].time == T0 + 60 and report.source == "live+backfill"
    alone, only = merge(None, b)
    assert alone["time"].tolist() == [T0, T0 + 60] and only.source == "data_collect" and only.both == 0


# ---- derived timeframes --------------------------------------------------------------------------


def test_a_five_minute_candle_from_five_one_minute_candles() -> None:
    five = [
        (T0, 1.10, 1.12, 1.09, 1.11, 3, 10, 1),
        (T0 + 60, 1.11, 1.15, 1.10, 1.14, 2, 20, 1),
        (T0 + 120, 1.14, 1.14, 1.05, 1.06, 4, 30, 1),
        (T0 + 180, 1.06, 1.08, 1.06, 1.07, 1, 40, 1),
        (T0 + 240, 1.07, 1.09, 1.07, 1.08, 5, 50, 1),
    ]
    [c] = derive(frame(five), 60, 300).to_dict("records")
    assert c == {
        "time": T0, "open": 1.10, "high": 1.15, "low": 1.05, "close": 1.08,
        "ticks": 15, "volume": 150.0, "complete": 1,
    }  # fmt: skip
    four = derive(frame(five[:2] + five[3:]), 60, 300).iloc[0]
    assert four["complete"] == 0 and four["close"] == 1.08 and four["high"] == 1.15
    broken = derive(frame([*five[:4], (*five[4][:7], 0)]), 60, 300).iloc[0]
    assert broken["complete"] == 0
    unknown = derive(frame([*five[:4], (*five[4][:6], np.nan, 1)]), 60, 300).iloc[0]
    assert math.isnan(unknown["volume"]) and unknown["complete"] == 1
    off_edge = derive(frame([*five[:4], (T0 + 250, *five[4][1:])]), 60, 300).iloc[0]
    assert off_edge["complete"] == 0  # a candle not on a minute's edge is not a whole minute
    assert not can_derive(60, 90) and not can_derive(300, 60) and can_derive(60, 86400)
    with pytest.raises(ValueError, match="not made of whole"):
        derive(frame(five), 300, 600 + 60)


def test_the_day_starts_where_the_candle_service_starts_it() -> None:
    hours = [(T0 + 3600 * i, 1.1, 1.1, 1.1, 1.1, 1, np.nan, 1) for i in range(24)]
    days = derive(frame(hours), 3600, 86400)
    # 12:00 UTC on: the broker's day starts at 22:00 UTC (UTC+2 midnight), so 10 hours, then 14.
    assert days["time"].tolist() == [T0 + 10 * 3600 - 86400, T0 + 10 * 3600]
    assert days["ticks"].tolist() == [10, 14] and days["complete"].tolist() == [0, 0]
    assert days["time"].tolist() == [Rules().bucket(T0, 86400), Rules().bucket(T0 + 23 * 3600, 86400)]
    assert bucket_start(T0, 86400, 0) == T0 - 12 * 3600
    assert derivations([60, 3600], [60, 300, 3600, 14400, 86400]) == {300: 60, 14400: 3600, 86400: 3600}
    assert derivations([60], [300, 14400], day_offset=BROKER_DAY_OFFSET + 30) == {300: 60}


def ticks_and_candles() -> tuple[list[tuple[str, float, float]], Aggregator]:
    """Six and a third hours of ticks from 11:40 UTC, a few seconds apart, through the candle
    service's aggregator (1m, 1h, 4h); the last tick, an hour later, closes every candle."""
    rng = np.random.default_rng(7)
    start, end = T0 - 1200, T0 + 6 * 3600
    ts = start + np.cumsum(rng.uniform(0.5, 9.0, 6000))
    ts = ts[ts < end]
    prices = np.round(1.1 + np.cumsum(rng.integers(-4, 5, len(ts))) * 1e-5, 5)
    ticks = [("EURUSD_otc", float(t), float(p)) for t, p in zip(ts, prices, strict=True)]
    agg = Aggregator(Rules(timeframes=(60, 3600, 14400), live=False))
    agg.apply_capture("start", start)
    agg.apply_ticks([*ticks, ("EURUSD_otc", end + 3600.0, 1.1)])
    return ticks, agg


def test_hours_built_from_minutes_equal_hours_built_from_ticks(tmp_path: Path) -> None:
    _, agg = ticks_and_candles()
    closed = agg.take_changes().closed
    minutes = [r for r in closed if r[1] == 60]
    assert len(minutes) == 380 and all(r[9] for r in minutes)  # every minute had ticks
    Writer(tmp_path).candles(
        "EURUSD_otc", 60, [Candle(r[2], r[3], r[4], r[5], r[6], r[7], None, r[9]) for r in minutes]
    )
    catalogue = datasets.discover(tmp_path)
    for tf in (3600, 14400):
        ds = catalogue[datasets.dataset_id("EURUSD_otc", tf)]
        assert (ds.derived_from, ds.source, ds.describe()["derived_from"]) == (60, "realtime_stream", "1m")
        got, report = datasets.load(ds)
        want = [r for r in closed if r[1] == tf]
        assert got["time"].tolist() == [r[2] for r in want]
        assert got[["open", "high", "low", "close"]].to_numpy().tolist() == [list(r[3:7]) for r in want]
        assert got["ticks"].tolist() == [r[7] for r in want]
        assert got["complete"].tolist() == [int(r[9]) for r in want]
        assert report.derived_from == 60 and report.files == 4 and report.candles == len(want)
        # What a dataset list counts from the minute files' times alone: the same candles.
        minute_times = np.array([r[2] for r in minutes])
        assert ds.candle_times(minute_times).tolist() == [r[2] for r in want]
    # The first hour and the first 4 hours started before capture did: incomplete both ways.
    assert [r[9] for r in closed if r[1] == 3600][:2] == [False, True]
    assert [r[9] for r in closed if r[1] == 14400] == [False, True]


# ---- what users see ------------------------------------------------------------------------------


def test_qf_data_lists_the_merged_and_derived_datasets(both_sides: Path) -> None:
    res = qf("data", "--json", "--data-dir", str(both_sides))
    assert res.returncode == 0, res.stderr
    listed = {d["id"]: d for d in json.loads(res.stdout)["datasets"]}
    assert (listed["EURUSD_otc-1m"]["source"], listed["EURUSD_otc-1m"]["differences"]) == ("live+backfill", 2)
    assert listed["EURUSD_otc-1m"]["derived_from"] is None
    hour = listed["EURUSD_otc-1h"]
    assert (hour["source"], hour["derived_from"], hour["timeframe"]) == ("live+backfill", "1m", "1h")
    assert sorted(listed) == sorted(
        datasets.dataset_id("EURUSD_otc", tf) for tf in (60, 300, 900, 3600, 14400, 86400)
    )
    table = qf("data", "--data-dir", str(both_sides))
    assert table.returncode == 0, table.stderr
    assert "live+backfill" in table.stdout and "EURUSD_otc-1h" in table.stdout


def test_a_backtest_on_a_merged_dataset_sees_each_time_once(tmp_path: Path) -> None:
    live = walk(400, T0 + 60 * 200, 60, seed=5)
    broker = walk(400, T0, 60, seed=6)
    Writer(tmp_path).candles("EURUSD_otc", 60, live)
    collect(tmp_path, "EURUSD_otc", 60, broker)
    res = qf("backtest", "EURUSD_otc-1m", "--strategy", "sma_cross", "--json", "--data-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    [result] = json.loads(res.stdout)["results"]
    data = result["dataset"]["data"]
    assert (data["candles"], data["rows"], data["merge"]["both"]) == (600, 800, 200)
    assert data["differences"] == 200  # two random walks over the same 200 minutes disagree
    entries = [t["entry_time"] for t in result["trades"]]
    assert len(entries) > 10 and entries == sorted(set(entries))
