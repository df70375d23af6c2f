"""Timeframes and gaps of a series, read from its row times (pure: arrays in, values out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from quantumflux.bus.timeframes import label

# Share of intervals that must be whole multiples of the step for a file to have one timeframe.
MIN_FIT = 0.9

# Epoch seconds, whole (candle files) or to the millisecond (ticks).
Times = npt.NDArray[Any]


@dataclass(frozen=True)
class TimeframeFit:
    """The timeframe read from the intervals between candle times.

    ``seconds`` is the most common step; ``fit`` the share of intervals that are whole multiples
    of it (a gap of three candles fits, a 90 s step in a 1m file does not); ``gaps`` counts the
    intervals longer than one step and ``irregular`` those that are not multiples of it.
    """

    seconds: int | None
    fit: float
    intervals: int
    gaps: int
    irregular: int

    @property
    def fits(self) -> bool:
        """True when the intervals fit one timeframe well enough to trust it."""
        return self.seconds is not None and self.fit >= MIN_FIT

    def message(self) -> str:
        """One line for a person: the timeframe and how well the rows fit it."""
        if self.seconds is None:
            return "too few candles to tell the timeframe"
        share = f"{self.fit * 100:.1f}%"
        if not self.fits:
            return (
                f"the intervals don't fit one timeframe: the most common step, {label(self.seconds)}, "
                f"fits only {share} of rows"
            )
        return f"timeframe {label(self.seconds)} ({share} of rows fit, {self.gaps} gaps)"


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values. By sorting, not ``np.unique``: numpy's hash-based unique is many
    times slower on candle times (all multiples of the timeframe) than a sort."""
    if len(values) < 2:
        return values
    s = np.sort(values) if (np.diff(values) < 0).any() else values
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def detect_timeframe(times: Times) -> TimeframeFit:
    """The timeframe of candle open times (epoch seconds, any order), robust to gaps and odd rows."""
    t = _distinct(np.asarray(times, dtype=np.int64))
    steps = np.diff(t)
    if len(steps) == 0:
        return TimeframeFit(None, 0.0, 0, 0, 0)
    values, counts = np.unique(steps, return_counts=True)
    # The most common step; on a tie, the smaller one (gaps only ever make steps longer).
    step = int(values[np.argmax(counts)])
    multiple = steps % step == 0
    fit = float(multiple.mean())
    gaps = int((multiple & (steps > step)).sum())
    return TimeframeFit(step, fit, len(steps), gaps, int((~multiple).sum()))


def find_gaps(times: Times, step: float) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Where sorted ``times`` are further apart than ``step``: the index of the row before each
    gap, and how many candles of ``step`` are missing in it (a 150 s hole in 1m candles misses 2)."""
    d = np.diff(times)
    idx = np.flatnonzero(d > step)
    miss = (d[idx] // step - (d[idx] % step == 0)).astype(np.int64)
    return idx, miss


@dataclass(frozen=True)
class Span:
    """What the row times of one series say: how many, from when to when, what is odd, the gaps.

    ``rows`` counts every row, ``distinct`` the different times; ``repeated`` the rows whose time
    an earlier row already had; ``out_of_order`` the rows earlier than the row before them (in
    file order); ``missing`` the candles missing in the gaps (0 when ``candles`` is False).
    """

    rows: int
    distinct: int
    first: float | None
    last: float | None
    repeated: int
    out_of_order: int
    gaps: int
    missing: int
    largest_gap: float


def span_of(times: Times, step: float | None, candles: bool = True) -> Span:
    """The :class:`Span` of row times in file order; gaps are intervals longer than ``step``
    (none when it is None). For ticks (``candles`` False) no candle is counted as missing."""
    t = np.asarray(times)
    if len(t) == 0:
        return Span(0, 0, None, None, 0, 0, 0, 0, 0.0)
    out_of_order = int((np.diff(t) < 0).sum())
    ordered = np.sort(t, kind="stable")
    distinct = int(len(ordered) - (np.diff(ordered) == 0).sum())
    gaps = missing = 0
    largest = 0.0
    if step:
        idx, miss = find_gaps(ordered, step)
        gaps = len(idx)
        missing = int(miss.sum()) if candles else 0
        if gaps:
            largest = float(np.diff(ordered)[idx].max())
    first, last = ordered[0].item(), ordered[-1].item()
    return Span(len(t), distinct, first, last, len(t) - distinct, out_of_order, gaps, missing, largest)
