"""The values inside the broker's events, checked where they are read (pure).

A field of the wrong type is a *malformed* item (``malformed:<kind>``); a number of the right type
but not a possible market value is a *rejected* item: ``rejected:bad_time`` (before 2000, or more
than :data:`MAX_AHEAD` seconds past the capture time in the broker's clock), ``rejected:bad_price``
(zero, negative or not finite) or ``rejected:bad_ohlc`` (a candle whose high is below its low, or
whose open or close lies outside them). Either way only that item is dropped, never its batch.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

# 2000-01-01 UTC: the broker has no market data older than that; smaller numbers are damage.
EARLIEST_TIME = 946_684_800.0
# No time zone is further than 14 h from UTC, so the broker's clock is never further ahead.
MAX_OFFSET = 14 * 3600.0
# A quote or candle may be stamped a little ahead (an expiry, a clock set wrong), never by days.
MAX_AHEAD = MAX_OFFSET + 3 * 86400.0
# The ceiling when the capture time itself cannot be trusted (0, NaN, a frame built by hand):
# still small enough for every field of the bus.
LATEST_TIME = 4_102_444_800.0  # 2100-01-01 UTC
# Times above this are in milliseconds.
MS_THRESHOLD = 1e12
INF = math.inf

# No chart period is longer than a year; anything bigger is a mangled frame, and would not fit
# the bus's integer fields either.
MAX_PERIOD = 366 * 86400
# msgpack, the bus's encoding, carries integers of at most 64 bits.
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1

BAD_TIME = "rejected:bad_time"
BAD_PRICE = "rejected:bad_price"
BAD_OHLC = "rejected:bad_ohlc"

_isfinite = math.isfinite


def num(v: Any) -> float | None:
    """A finite JSON number as a float (booleans are not numbers here), else None."""
    if (type(v) is float or type(v) is int) and _isfinite(v):
        return float(v)
    return None


def is_number(v: Any) -> bool:
    """An int or float of JSON, finite or not (the caller tells bad values from wrong types)."""
    return type(v) is float or type(v) is int


def small_int(v: Any) -> int | None:
    """An integer the bus can carry, else None."""
    if type(v) is int and MIN_INT <= v <= MAX_INT:
        return v
    return None


def broker_time(v: Any) -> float | None:
    """A positive finite time in seconds (milliseconds accepted), else None; not range-checked."""
    t = num(v)
    if t is None or t <= 0:
        return None
    return t / 1000.0 if t > MS_THRESHOLD else t


def latest_time(wall_ts: Any) -> float:
    """The latest broker time a frame captured at ``wall_ts`` may carry."""
    if (type(wall_ts) is float or type(wall_ts) is int) and EARLIEST_TIME <= wall_ts <= LATEST_TIME:
        return float(wall_ts) + MAX_AHEAD
    return LATEST_TIME


def market_time(v: Any, latest: float) -> float | str:
    """A broker time in seconds, or why it is not one (``malformed`` when it is no number)."""
    if not is_number(v):
        return "malformed"
    t = v / 1000.0 if v > MS_THRESHOLD else v
    if EARLIEST_TIME <= t <= latest:  # false for NaN too
        return float(t)
    return BAD_TIME


def price(v: Any) -> float | str:
    """A price, or why it is not one (``malformed`` when it is no number)."""
    if not is_number(v):
        return "malformed"
    if 0.0 < v < INF:
        return float(v)
    return BAD_PRICE


def as_period(v: Any) -> int | None:
    """A period in whole seconds, from one day's fraction up to a year."""
    p = num(v)
    if p is None or p <= 0 or p > MAX_PERIOD or not p.is_integer():
        return None
    return int(p)


def direction(command: Any, action: Any) -> str | None:
    """``command`` 0/1 (deals) or ``action`` "call"/"put" (orders) → "call" | "put"."""
    if type(command) is int:
        return "call" if command == 0 else "put" if command == 1 else None
    if isinstance(action, str) and action.lower() in ("call", "put"):
        return action.lower()
    return None


def deal_time(ts: Any, ms: Any, text: Any, off: float) -> float | None:
    """A deal's ``openTimestamp`` + ``openMs`` (or its ``openTime`` text) → UTC epoch seconds."""
    t = broker_time(ts)
    if t is None and isinstance(text, str):
        try:
            when = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        t = when.replace(tzinfo=datetime.UTC).timestamp()
    if t is None:
        return None
    if type(ms) is int and 0 <= ms < 1000 and t.is_integer():
        t += ms / 1000.0
    return round(t - off, 3)


def flag(v: Any) -> bool | None:
    """The broker's 0/1 or true/false, else None."""
    return bool(v) if isinstance(v, int | bool) else None
