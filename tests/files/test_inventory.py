"""``qf data``'s summary of one series: rows, span, gaps."""

from __future__ import annotations

from pathlib import Path

from quantumflux.files.inventory import inventory, summarize

T0 = 1795835100  # a whole minute


def test_candle_gaps_count_missing_candles() -> None:
    times = [T0 + 60 * i for i in (0, 1, 2, 5, 6, 10)]
    s = summarize("EURUSD_otc", "candles", 60, [float(t) for t in times], bad=0)
    assert (s.rows, s.gaps, s.missing_candles, s.largest_gap_seconds) == (6, 2, 5, 240.0)
    assert s.first == "2026-11-28T03:05:00Z" and s.timeframe == "1m"
    assert s.duplicates == 0 and s.out_of_order == 0


def test_tick_pauses_over_a_minute_are_gaps() -> None:
    s = summarize("EURUSD_otc", "ticks", None, [T0 + 0.5, T0 + 30.0, T0 + 200.25, T0 + 100.0], bad=1)
    assert (s.rows, s.gaps, s.out_of_order, s.bad_rows) == (4, 2, 1, 1)
    assert s.last == "2026-11-28T03:08:20.250Z"


def test_listing_reads_the_files(tmp_path: Path) -> None:
    folder = tmp_path / "realtime_stream/1M_candle_data"
    folder.mkdir(parents=True)
    head = "timestamp,open,high,low,close,ticks\n"
    (folder / "a%2Fb_1M_20261122T030500Z_0001.csv").write_text(
        head + "2026-11-22T03:05:00Z,1,2,0.5,1.5,3\n2026-11-22T03:06:00Z,1,2,0.5,1.5,3\n"
    )
    (folder / "a%2Fb_1M_20261122T040000Z_0001.csv").write_text(
        head + "2026-11-22T03:06:00Z,1,2,0.5,1.5,3\nbroken\n"
    )
    [s] = inventory(tmp_path)
    assert (s.asset, s.files, s.sessions, s.rows, s.duplicates, s.bad_rows) == ("a/b", 2, 2, 3, 1, 1)
