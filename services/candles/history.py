"""Broker history against held candles (pure): which broker candles may fill which buckets.

The broker's candles fill buckets before the first live candle (and, while no live candle exists,
buckets newer than the held ones that are already over); a bucket already held is never replaced,
because a candle built from captured ticks is the service's own record and the broker's may differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_TS = 946_684_800.0  # 2000-01-01: anything older is a broken clock, not market data

# A broker candle once checked: (time, open, high, low, close, volume or None).
HistoryRow = tuple[int, float, float, float, float, int | None]


@dataclass(frozen=True, slots=True)
class Fill:
    """What a batch of broker candles does to one timeframe of an asset.

    ``accepted`` are the candles that fill a bucket, in time order; ``held_low`` and
    ``closed_high`` the oldest bucket held and the newest one closed once they are in (below 0:
    none yet).
    """

    accepted: list[HistoryRow]
    held_low: float
    closed_high: float
    misaligned: int = 0
    ignored: int = 0


def history_rows(candles: Iterable[Sequence[Any]]) -> tuple[list[HistoryRow], int]:
    """The broker candles ``[time, open, high, low, close(, volume)]`` that make sense, in time
    order, and how many did not (a broken price, a high below the body, a time before 2000)."""
    rows: list[HistoryRow] = []
    bad = 0
    for c in candles:
        try:
            t, o, h, lo, cl = int(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4])
            volume = int(c[5]) if len(c) > 5 and c[5] is not None else None
        except (TypeError, ValueError, IndexError, OverflowError):
            bad += 1
            continue
        prices = (o, h, lo, cl)
        if not all(0.0 < p < math.inf for p in prices) or h < max(o, cl) or lo > min(o, cl) or t < MIN_TS:
            bad += 1
            continue
        rows.append((t, o, h, lo, cl, volume))
    rows.sort(key=_ohlc)
    return rows, bad


def history_ticks(ticks: Iterable[Sequence[Any]]) -> tuple[list[tuple[float, float]], int]:
    """The ``(time, price)`` ticks of a history batch in time order, and how many were unreadable."""
    good: list[tuple[float, float]] = []
    bad = 0
    for row in ticks:
        try:
            good.append((float(row[0]), float(row[1])))
        except (TypeError, ValueError, IndexError):
            bad += 1
    good.sort(key=lambda t: t[0])
    return good, bad


def fill(
    rows: list[HistoryRow],
    tf: int,
    off: int,
    held: tuple[float, float, float],
    clock: float,
) -> Fill:
    """The broker candles (from :func:`history_rows`) that fill buckets of one timeframe.

    ``held`` is ``(held_low, closed_high, first_live)`` before the batch (below 0: none) and
    ``clock`` the asset's clock, so the bucket still running at the broker is never taken closed.
    """
    held_low, closed_high, first_live = held
    aligned = [r for r in rows if not (r[0] + off) % tf]
    misaligned = len(rows) - len(aligned)
    if not aligned:
        return Fill([], held_low, closed_high, misaligned)
    if first_live >= 0:
        floor = first_live
    elif clock > 0:
        floor = (clock + off) // tf * tf - off  # the bucket still running at the broker
    else:
        floor = aligned[-1][0]  # no clock at all: the newest candle may still be forming
    accepted: list[HistoryRow] = []
    ignored = 0
    low, high = held_low, closed_high
    last = -1
    for row in aligned:
        t = row[0]
        if t == last:
            continue  # the same bucket twice in one batch
        last = t
        # Judged against what was held before this batch (the batch itself has no bucket twice).
        below = held_low < 0 or t < held_low
        above = first_live < 0 and t > closed_high
        if t >= floor or not (below or above):
            ignored += 1
            continue
        accepted.append(row)
        if low < 0 or t < low:
            low = float(t)
        if t > high:
            high = float(t)
    return Fill(accepted, low, high, misaligned, ignored)


def _ohlc(row: HistoryRow) -> tuple[int, float, float, float, float]:
    # The order batches were always sorted in (the volume, maybe None, cannot be compared).
    return row[:5]
