"""Paging history backwards, the pure part: which windows to ask for, what each answer adds.

The broker answers ``loadHistoryPeriod`` with the candles of the window ``(time - offset, time]``
(``time`` in its own clock, about UTC + 7200), at most :data:`PAGE_CANDLES` of them. A backfill
asks for one window of 150 candles at a time, newest first, and stops at the depth asked for or
where the broker's history ends (an empty page, or one that stops short of its window's start).
Everything here takes values and returns values; the clock, Redis, the page and the files are
the shell's (:mod:`quantumflux.backfill.worker`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from quantumflux.files.collect import CollectedCandle

PAGE_CANDLES = 150
# The broker's clock runs ahead of UTC by whole half hours (as ingest measures it).
OFFSET_STEP = 1800
ASSUMED_OFFSET = 7200
# How far back the clock probe looks: far enough that its window is history on any offset.
PROBE_BACK = 6 * 3600

BrokerCandle = Sequence[float]  # [time, open, high, low, close(, volume)], UTC, as decoded
TickItem = tuple[float, float]  # (UTC time, price)


@dataclass(frozen=True, slots=True)
class Window:
    """The candles ``oldest`` … ``newest`` (open times, UTC) of one asset and period: one request."""

    asset: str
    period: int
    oldest: int
    newest: int

    @property
    def count(self) -> int:
        return (self.newest - self.oldest) // self.period + 1


def first_wanted(since: float, period: int) -> int:
    """The oldest candle a backfill from ``since`` (UTC) wants: the first that opens at or after it."""
    return math.ceil(since / period) * period


def newest_closed(now: float, period: int) -> int:
    """The newest candle that is over at ``now`` (UTC): the one before the forming one."""
    return math.floor(now / period) * period - period


def windows(asset: str, period: int, first: int, newest: int, held: set[int]) -> list[Window]:
    """The windows from ``newest`` back to ``first``, newest first, leaving out those already held."""
    out: list[Window] = []
    hi = newest
    while hi >= first:
        lo = max(first, hi - (PAGE_CANDLES - 1) * period)
        if any(t not in held for t in range(lo, hi + period, period)):
            out.append(Window(asset, period, lo, hi))
        hi = lo - period
    return out


def request_index(now: float, sequence: int) -> int:
    """A request's ``index`` as the page makes it: the second it is sent, then two digits."""
    return int(now) * 100 + sequence % 100


def request_body(window: Window, index: int, broker_offset: int) -> dict[str, int | str]:
    """The ``loadHistoryPeriod`` body asking for exactly ``window``."""
    return {
        "asset": window.asset,
        "index": index,
        "time": window.newest + broker_offset,
        "offset": window.count * window.period,
        "period": window.period,
    }


def probe_window(asset: str, now: float) -> Window:
    """A one-minute window well in the past: its answer shows the clock the decoder used."""
    newest = newest_closed(now - PROBE_BACK, 60)
    return Window(asset, 60, newest - (PAGE_CANDLES - 1) * 60, newest)


def measured_offset(asked: Window, newest_answered: int | None) -> int:
    """The offset between the broker's clock and the UTC times ingest published, in half hours.

    The probe asked for candles up to ``asked.newest + ASSUMED_OFFSET`` in the broker's clock;
    the newest candle of the answer, as published, is that time minus the decoder's offset.
    No answer leaves the usual offset.
    """
    if newest_answered is None:
        return ASSUMED_OFFSET
    gap = asked.newest + ASSUMED_OFFSET - newest_answered
    return round(gap / OFFSET_STEP) * OFFSET_STEP


def candles_from_ticks(
    ticks: Iterable[TickItem], period: int, start: float, end: float
) -> list[CollectedCandle]:
    """Candles of ``period`` from the ticks of the window ``(start, end]`` (UTC).

    A candle is complete only when the window covers its whole interval; ``volume`` is the
    number of ticks, as the broker counts it.
    """
    buckets: dict[int, list[float]] = {}
    for t, p in sorted(ticks):
        b = int(t // period * period)
        c = buckets.get(b)
        if c is None:
            buckets[b] = [p, p, p, p, 1]
        else:
            c[1], c[2], c[3], c[4] = max(c[1], p), min(c[2], p), p, c[4] + 1
    return [
        CollectedCandle(b, o, h, lo, c, int(n), int(n), complete=b > start and b + period <= end)
        for b, (o, h, lo, c, n) in sorted(buckets.items())
    ]


def from_broker(rows: Iterable[BrokerCandle]) -> list[CollectedCandle]:
    """The broker's candles as written: whole, with its volume; no ticks of ours (as the candle
    service writes broker candles)."""
    out = []
    for r in rows:
        volume = int(r[5]) if len(r) > 5 else None
        out.append(CollectedCandle(int(r[0]), r[1], r[2], r[3], r[4], 0, volume, True))
    return out


def page_rows(
    window: Window,
    candles: Sequence[BrokerCandle],
    ticks: Sequence[TickItem],
    captured: float,
    held: set[int],
) -> list[CollectedCandle]:
    """What an answer adds to the files: the window's whole candles not held yet, oldest first.

    A candle that had not ended when the answer was captured is still forming: never written.
    """
    if candles:
        rows = from_broker(candles)
    else:
        # Ticks come for the request's window itself: (time - offset, time], in UTC here.
        start = window.newest - window.count * window.period
        rows = candles_from_ticks(ticks, window.period, start, min(window.newest, captured))
    return [
        c
        for c in rows
        if window.oldest <= c.time <= window.newest
        and c.time + window.period <= captured
        and c.complete
        and c.time not in held
    ]


def history_ends(window: Window, candles: Sequence[BrokerCandle], ticks: Sequence[TickItem]) -> bool:
    """Whether the broker has nothing older: an empty page, or one that stops short of its start."""
    times = [int(c[0]) for c in candles] or [int(t // window.period * window.period) for t, _ in ticks]
    if not times:
        return True
    return min(times) > window.oldest + window.period


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a backfill is: pages and candles done out of those planned, since ``started``."""

    started: float
    pages_planned: int
    pages_done: int = 0
    candles: int = 0

    def page(self, written: int) -> Progress:
        return Progress(self.started, self.pages_planned, self.pages_done + 1, self.candles + written)

    def rate(self, now: float) -> float:
        """Candles written per second so far."""
        spent = now - self.started
        return self.candles / spent if spent > 0 else 0.0

    def left(self, now: float) -> float | None:
        """Seconds left at the pace so far; None before the first page."""
        if self.pages_done == 0:
            return None
        per_page = (now - self.started) / self.pages_done
        return max(0, self.pages_planned - self.pages_done) * per_page
