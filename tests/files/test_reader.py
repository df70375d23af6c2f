"""The loader on every column variant, on broken files, and timeframe detection."""

from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np
import pytest

from quantumflux.files.gaps import detect_timeframe
from quantumflux.files.reader import LoadError, read_candles

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "backtest"
T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))
OPEN = [1.33319, 1.33322, 1.33291, 1.33300, 1.33415, 1.33401]
HIGH = [1.33337, 1.33330, 1.33304, 1.33419, 1.33421, 1.33443]
LOW = [1.33301, 1.33284, 1.33275, 1.33298, 1.33394, 1.33400]
CLOSE = [1.33322, 1.33291, 1.33300, 1.33415, 1.33401, 1.33440]
TICKS = [120, 118, 121, 119, 120, 117]


@pytest.mark.parametrize(
    ("name", "has_ticks"),
    [
        ("iso_z.csv", True),
        ("epoch_seconds.csv", False),
        ("epoch_ms_any_order.csv", True),
        ("broker_tochl.csv", False),
        ("iso_offset_upper.csv", True),
        ("iso_naive_spaces.csv", False),
    ],
)
def test_every_variant_reads_the_same_candles(name: str, has_ticks: bool) -> None:
    loaded = read_candles(FIX / name)
    c = loaded.candles
    assert list(c.columns) == ["time", "open", "high", "low", "close", "ticks", "volume", "complete"]
    assert c["time"].tolist() == [T0 + 60 * i for i in range(6)]
    assert c["open"].tolist() == OPEN
    assert c["high"].tolist() == HIGH
    assert c["low"].tolist() == LOW
    assert c["close"].tolist() == CLOSE
    assert c["ticks"].tolist() == (TICKS if has_ticks else [0] * 6)
    # Files from before the two columns: every candle complete, its volume unknown.
    assert c["complete"].tolist() == [1] * 6
    assert c["volume"].isna().all()
    assert loaded.rows == 6 and loaded.duplicates == 0


@pytest.mark.parametrize(
    ("name", "line", "column", "words"),
    [
        ("bad_number.csv", 4, 5, "'abc' is not a number"),
        ("bad_time.csv", 3, 1, "'yesterday' is not a time"),
        ("missing_column.csv", 1, 5, "missing column close"),
        ("ragged.csv", 5, 7, "7 values where the header has 6"),
        ("no_header.csv", 1, 1, "no header"),
        ("high_below_low.csv", 3, 3, "high 1.3328 is below"),
        ("empty_cell.csv", 4, 3, "empty high"),
        ("empty.csv", 1, 1, "empty"),
    ],
)
def test_broken_files_name_file_line_and_column(name: str, line: int, column: int, words: str) -> None:
    with pytest.raises(LoadError) as info:
        read_candles(FIX / name)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert words in err.message
    assert str(err).startswith(f"{FIX / name}:{line}:{column}: ")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="cannot read the file"):
        read_candles(tmp_path / "nothing.csv")


def test_unsorted_and_repeated_rows_are_sorted_and_dropped(tmp_path: Path) -> None:
    p = tmp_path / "messy.csv"
    p.write_text(
        f"time,open,high,low,close\n{T0 + 120},1,1,1,1\n{T0},2,2,2,2\n{T0 + 60},3,3,3,3\n{T0},4,4,4,4\n"
    )
    loaded = read_candles(p)
    assert loaded.candles["time"].tolist() == [T0, T0 + 60, T0 + 120]
    # The first row of a repeated time in file order is kept.
    assert loaded.candles["close"].tolist() == [2.0, 3.0, 1.0]
    assert loaded.duplicates == 1 and loaded.out_of_order == 2


def test_timeframe_with_gaps_and_a_few_odd_rows() -> None:
    steps = [60] * 90 + [180] * 5 + [90] * 3  # 5 gaps of 2 missing candles, 3 odd intervals
    rng = np.random.default_rng(3)
    times = T0 + np.concatenate(([0], np.cumsum(rng.permutation(steps))))
    fit = detect_timeframe(times)
    assert fit.seconds == 60
    assert fit.intervals == 98
    assert fit.gaps == 5 and fit.irregular == 3
    assert fit.fit == pytest.approx(95 / 98)
    assert fit.fits
    assert fit.message() == "timeframe 1m (96.9% of rows fit, 5 gaps)"


def test_intervals_that_fit_no_timeframe_say_so() -> None:
    rng = np.random.default_rng(5)
    times = T0 + np.cumsum(rng.integers(1, 400, size=200))
    fit = detect_timeframe(times)
    assert not fit.fits
    assert fit.message().startswith("the intervals don't fit one timeframe")
    assert "of rows" in fit.message()


def test_too_few_candles_for_a_timeframe() -> None:
    fit = detect_timeframe(np.array([T0]))
    assert fit.seconds is None and not fit.fits
    assert "too few candles" in fit.message()
