"""Timeframe names: seconds ⇄ chart labels (``5s``, ``1m``, ``4h``) ⇄ file labels (``5S``, ``1M``)."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_LABEL = re.compile(r"^\s*(\d+)\s*([smhdSMHD]?)\s*$")

DEFAULT_TIMEFRAMES = (60, 300, 900, 3600, 14400)
SUB_MINUTE = (1, 5, 10, 15, 30)
ALLOWED = (1, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 7200, 14400, 86400)


# The broker's day starts this many seconds before UTC midnight (its clock runs at UTC+2): 4h and
# 1d candles begin there, so a day's candle is the day the trader sees on the broker's chart.
BROKER_DAY_OFFSET = 7200


class TimeframeError(ValueError):
    """A timeframe that cannot be read."""


def parse_timeframe(value: str | int) -> int:
    """Seconds of a timeframe given as seconds (``60``, ``"60"``) or a label (``"1m"``, ``"4H"``).

    A bare number is seconds. Raises :class:`TimeframeError` for anything else.
    """
    if isinstance(value, bool):
        raise TimeframeError(f"not a timeframe: {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        m = _LABEL.match(value)
        if not m:
            raise TimeframeError(f"not a timeframe: {value!r} (use 5s, 1m, 15m, 1h, 4h, 1d or seconds)")
        seconds = int(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    else:
        raise TimeframeError(f"not a timeframe: {value!r}")
    if seconds <= 0:
        raise TimeframeError(f"a timeframe must be positive: {value!r}")
    return seconds


def label(seconds: int) -> str:
    """Chart label of a timeframe: 60 → ``1m``, 14400 → ``4h``, 5 → ``5s``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def file_label(seconds: int) -> str:
    """Label used in CSV folder and file names (DESIGN §4): ``1M``, ``5S``, ``4H``."""
    return label(seconds).upper()


def parse_timeframes(value: str | list[str] | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """A sorted, de-duplicated tuple of seconds from ``"1m,5m,1h"`` or a list."""
    items: list[str | int] = (
        [p for p in value.replace(";", ",").split(",") if p.strip()]
        if isinstance(value, str)
        else list(value)
    )
    return tuple(sorted({parse_timeframe(v) for v in items}))


def alignment_offset(tf: int, day_offset: int = BROKER_DAY_OFFSET) -> int:
    """Seconds a timeframe's candles are shifted from UTC multiples: the broker's day above 1h, 0 up to 1h."""
    return day_offset if tf > 3600 else 0


def bucket_start(ts: Any, tf: int, day_offset: int = BROKER_DAY_OFFSET) -> Any:
    """Open time of the ``tf`` candle a time ``ts`` (epoch seconds) falls in.

    ``ts`` may be one number or a numpy array of them: the candle service buckets ticks and the
    file readers bucket finer candles with this same arithmetic, so both agree on every edge.
    """
    off = alignment_offset(tf, day_offset)
    return (ts + off) // tf * tf - off
