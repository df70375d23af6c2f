"""The collected files on disk: names, chunks, what counts as held, and that the loader reads them."""

from __future__ import annotations

from pathlib import Path

from quantumflux.files.collect import (
    CollectedCandle,
    CollectWriter,
    collect_file,
    collected_files,
    collected_times,
)
from quantumflux.files.datasets import discover, load

T0 = 1_796_000_040  # a minute's start


def candles(n: int, start: int = T0) -> list[CollectedCandle]:
    return [CollectedCandle(start + 60 * i, 1.5, 1.75, 1.25, 1.5, 0, 40 + i) for i in range(n)]


def test_pages_go_to_numbered_chunks_with_a_header_each(tmp_path: Path) -> None:
    writer = CollectWriter(tmp_path, "EURUSD_otc", 60, "20261206T160000Z", chunk_rows=100)
    assert writer.write(candles(150)) == 150
    assert writer.write(candles(100, T0 - 6000)) == 100  # the page before, written after
    files = collected_files(tmp_path, "EURUSD_otc", 60)
    assert files == [collect_file(tmp_path, "EURUSD_otc", 60, "20261206T160000Z", c) for c in (1, 2, 3)]
    assert files[0].as_posix().endswith("data_collect/1M_candles/EURUSD_otc_1M_20261206T160000Z_0001.csv")
    lines = [p.read_text().splitlines() for p in files]
    assert [len(x) for x in lines] == [101, 101, 51]
    assert all(x[0] == "timestamp,open,high,low,close,ticks,volume,complete" for x in lines)
    assert lines[0][1] == "2026-11-30T00:54:00Z,1.5,1.75,1.25,1.5,0,40,1"
    assert collected_times(tmp_path, "EURUSD_otc", 60) == {T0 + 60 * i for i in range(-100, 150)}
    # Another asset's or timeframe's files are not this series'.
    CollectWriter(tmp_path, "EURUSD_otc", 300, "20261206T160000Z").write(candles(3))
    assert collected_times(tmp_path, "EURUSD", 60) == set()
    assert len(collected_times(tmp_path, "EURUSD_otc", 300)) == 3


def test_a_line_cut_by_a_crash_is_not_held(tmp_path: Path) -> None:
    CollectWriter(tmp_path, "GBPUSD_otc", 60, "20261206T160000Z").write(candles(3))
    [path] = collected_files(tmp_path, "GBPUSD_otc", 60)
    with path.open("a") as f:
        f.write("2026-11-30T00:17:00Z,1.5,1.75,1.2")  # killed in the middle of a row
    assert collected_times(tmp_path, "GBPUSD_otc", 60) == {T0, T0 + 60, T0 + 120}


def test_the_backtest_loader_finds_and_reads_the_collected_series(tmp_path: Path) -> None:
    writer = CollectWriter(tmp_path, "EURUSD_otc", 60, "20261206T160000Z")
    writer.write(candles(5, T0 + 300))
    writer.write(candles(5))  # older page after the newer one: the loader orders them
    # The minutes themselves (coarser timeframes derived from them are listed too).
    [dataset] = [d for d in discover(tmp_path).values() if d.asset == "EURUSD_otc" and not d.derived_from]
    frame, report = load(dataset)
    assert list(frame["time"]) == [T0 + 60 * i for i in range(10)]
    assert list(frame["volume"]) == [40, 41, 42, 43, 44] * 2
    assert report.gap_count == 0 and report.overlaps == 0
