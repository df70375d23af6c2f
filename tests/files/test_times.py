"""The quick time-only reader on candle and tick files, and the span and gaps of a series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quantumflux.files.cells import LoadError
from quantumflux.files.columns import header_line
from quantumflux.files.gaps import find_gaps, span_of
from quantumflux.files.reader import read_times, row_times
from quantumflux.files.rows import RowFormatter

T0 = 1795835100  # 2026-11-28T03:05:00Z, a whole minute


def test_tick_file_times_keep_their_milliseconds(tmp_path: Path) -> None:
    fmt = RowFormatter()
    path = tmp_path / "ticks.csv"
    path.write_text(header_line("ticks") + fmt.tick(T0 + 0.25, 1.1) + fmt.tick(T0 + 7.5, 1.2))
    found = row_times(path, candles=False)
    assert found.times.tolist() == [T0 + 0.25, T0 + 7.5] and found.bad == 0


def test_unreadable_rows_are_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        header_line("candles")
        + "2026-11-28T03:05:00Z,1,2,0.5,1.5,3,,1\nbroken\n\n2026-11-28T03:07:00Z,1,2,0.5,1.5,3,,1\n"
    )
    found = row_times(path)
    assert found.times.tolist() == [T0, T0 + 120] and found.bad == 1 and not found.one_form
    with pytest.raises(LoadError) as info:
        read_times(path)  # the strict reader names the first bad row
    assert (info.value.line, info.value.column) == (3, 2)


def test_candle_times_in_epoch_milliseconds_read_as_seconds(tmp_path: Path) -> None:
    path = tmp_path / "ms.csv"
    path.write_text(
        "time,open,high,low,close\n" + "".join(f"{(T0 + 60 * i) * 1000},1,1,1,1\n" for i in range(3))
    )
    assert read_times(path).tolist() == [T0, T0 + 60, T0 + 120]


def test_a_tick_file_is_not_a_candle_file(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(header_line("ticks") + "2026-11-28T03:05:00.000Z,1.1\n")
    with pytest.raises(LoadError, match="missing column open"):
        read_times(path)


def test_span_counts_repeats_order_and_missing_candles() -> None:
    # 0, 60, 60 (repeat), 30 (out of order, off the minute), 300: a 240 s hole misses 3 candles.
    span = span_of(np.array([T0, T0 + 60, T0 + 60, T0 + 30, T0 + 300]), 60)
    assert (span.rows, span.distinct, span.repeated, span.out_of_order) == (5, 4, 1, 1)
    assert (span.first, span.last, span.gaps, span.missing, span.largest_gap) == (T0, T0 + 300, 1, 3, 240.0)


def test_ticks_have_pauses_not_missing_candles() -> None:
    span = span_of(np.array([0.0, 61.5, 62.0]), 60.0, candles=False)
    assert (span.gaps, span.missing, span.largest_gap) == (1, 0, 61.5)


def test_an_off_grid_hole_counts_every_candle_that_fits_in_it() -> None:
    idx, miss = find_gaps(np.array([0, 150, 210, 390]), 60)
    assert idx.tolist() == [0, 2] and miss.tolist() == [2, 2]


def test_an_empty_series_has_no_span() -> None:
    span = span_of(np.empty(0), 60)
    assert span.rows == 0 and span.first is None and span.gaps == 0
