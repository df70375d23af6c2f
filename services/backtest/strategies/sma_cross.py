"""``sma_cross``: a call when the fast SMA crosses above the slow one, a put when it crosses below."""

from __future__ import annotations

import pandas as pd

from .. import indicators as ind
from .base import Param, Signals, Strategy, close_of, crossings, ones_where, state


def signals(candles: pd.DataFrame, *, fast: int = 5, slow: int = 20) -> Signals:
    """Call at candle i when SMA(fast) > SMA(slow) at i and ≤ at i−1; put when < at i and ≥ at i−1."""
    close = close_of(candles)
    s = state(ind.sma(close, fast), ind.sma(close, slow), close)
    return ones_where(crossings(s))


STRATEGY = Strategy(
    name="sma_cross",
    summary="Call when the fast moving average crosses above the slow one; put when it crosses below.",
    params=(
        Param("fast", int, 5, 1, 10_000, "Candles in the fast simple moving average."),
        Param("slow", int, 20, 2, 10_000, "Candles in the slow simple moving average."),
    ),
    compute=signals,
    needs=lambda p: int(p["slow"]) + 1,
    check=lambda p: None if p["fast"] < p["slow"] else "fast must be smaller than slow",
)
