"""Paged history as the broker answers it: ``loadHistoryPeriod`` and ``loadHistoryPeriodFast`` (pure).

A page asks ``{asset, index, time, offset, period}``: the window is (time - offset, time] in the
broker's clock (UTC + 7200 here, like every time the simulator sends). The answer carries the
same event name and ``{asset, index, data}``: at most :data:`PAGE_CANDLES` candles, the newest of
the window, in time order, never the candle still forming; ``volume`` is its number of ticks.
Like the real captures, the ``period`` key is sometimes absent (every other answer here).
``loadHistoryPeriodFast`` over a short window (offset of :data:`TICKS_UP_TO` seconds or less)
answers with the ticks themselves, ``{asset, time, price}``, so both formats of the broker occur.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HISTORY_EVENTS = ("loadHistoryPeriod", "loadHistoryPeriodFast")
PAGE_CANDLES = 150
TICKS_UP_TO = 100  # seconds: a Fast request this short gets ticks

# (asset, UTC from, UTC to) -> the ticks (UTC time, price) in [from, to)
TickSource = Callable[[str, float, float], list[tuple[float, float]]]


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """One page's request for a window of history."""

    event: str
    asset: str
    index: int | str
    time: float
    offset: float
    period: int

    @property
    def wants_ticks(self) -> bool:
        """Whether the broker answers this one with ticks rather than candles."""
        return self.event == "loadHistoryPeriodFast" and self.offset <= TICKS_UP_TO


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def parse_request(event: str, body: Any) -> HistoryRequest | None:
    """The request in a page's frame; None when it is not one or lacks a field (no answer then)."""
    if event not in HISTORY_EVENTS or not isinstance(body, dict):
        return None
    asset, index = body.get("asset"), body.get("index")
    time, offset, period = (_number(body.get(k)) for k in ("time", "offset", "period"))
    if not isinstance(asset, str) or not isinstance(index, int | str) or isinstance(index, bool):
        return None
    if time is None or offset is None or period is None:
        return None
    if period <= 0 or offset <= 0 or int(period) != period:
        return None
    return HistoryRequest(event, asset, index, time, offset, int(period))


def history_reply(
    req: HistoryRequest,
    ticks: TickSource,
    *,
    now: float,
    symbol_id: int,
    broker_offset: int,
    with_period: bool,
) -> dict[str, Any]:
    """The body the broker sends back; ``now`` is UTC, the window is in the broker's clock."""
    if req.wants_ticks:
        data = _tick_items(req, ticks, now, broker_offset)
    else:
        data = _candle_items(req, ticks, now, symbol_id, broker_offset)
    body: dict[str, Any] = {"asset": req.asset, "index": req.index, "data": data}
    if with_period:
        body["period"] = req.period
    return body


def _tick_items(req: HistoryRequest, ticks: TickSource, now: float, off: int) -> list[dict[str, Any]]:
    lo, hi = req.time - req.offset - off, min(req.time - off, now)
    # (from, to]: a tick exactly at the window's start belongs to the page before.
    rows = ticks(req.asset, math.nextafter(lo, math.inf), math.nextafter(hi, math.inf))
    return [{"asset": req.asset, "time": round(t + off, 3), "price": p} for t, p in rows]


def _candle_items(
    req: HistoryRequest, ticks: TickSource, now: float, symbol_id: int, off: int
) -> list[dict[str, Any]]:
    period = req.period
    newest = math.floor(req.time / period) * period
    forming = math.floor((now + off) / period) * period
    newest = min(newest, forming - period)
    oldest = max(
        math.floor((req.time - req.offset) / period) * period + period, newest - (PAGE_CANDLES - 1) * period
    )
    if newest < oldest:
        return []
    buckets: dict[int, list[float]] = {}
    for t, p in ticks(req.asset, oldest - off, newest + period - off):
        b = int((t + off) // period * period)
        c = buckets.get(b)
        if c is None:
            buckets[b] = [p, p, p, p, 1]  # open, close, high, low, ticks
        else:
            c[1], c[2], c[3], c[4] = p, max(c[2], p), min(c[3], p), c[4] + 1
    return [
        {
            "symbol_id": symbol_id,
            "time": b,
            "open": c[0],
            "close": c[1],
            "high": c[2],
            "low": c[3],
            "volume": int(c[4]),
        }
        for b, c in sorted(buckets.items())
    ]


class RequestGate:
    """Ignores requests that come faster than one per ``min_gap`` seconds (per socket).

    The broker publishes no limit but has blocked clients that ask too fast; the simulator drops
    such requests without an answer so that a client's pacing and retries can be tested.
    """

    def __init__(self, min_gap: float) -> None:
        self.min_gap = min_gap
        self._last: float | None = None

    def admit(self, now: float) -> bool:
        """Whether a request arriving at ``now`` (any monotonic clock) is answered."""
        if self._last is not None and now - self._last < self.min_gap:
            return False
        self._last = now
        return True
