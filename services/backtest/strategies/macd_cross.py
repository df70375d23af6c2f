"""``macd_cross``: a call when the MACD line crosses above its signal line, a put when below."""

from __future__ import annotations

import pandas as pd

from .. import indicators as ind
from .base import Param, Signals, Strategy, close_of, crossings, ones_where, state


def signals(candles: pd.DataFrame, *, fast: int = 12, slow: int = 26, signal: int = 9) -> Signals:
    """Call when MACD − signal turns positive at candle i; put when it turns negative."""
    close = close_of(candles)
    line, sig, _ = ind.macd(close, fast, slow, signal)
    return ones_where(crossings(state(line, sig, close)))


STRATEGY = Strategy(
    name="macd_cross",
    summary="Call when the MACD line crosses above its signal line; put when it crosses below.",
    params=(
        Param("fast", int, 12, 1, 1000, "Candles in the fast EMA of the MACD line."),
        Param("slow", int, 26, 2, 1000, "Candles in the slow EMA of the MACD line."),
        Param("signal", int, 9, 1, 1000, "Candles in the EMA of the MACD line (the signal line)."),
    ),
    compute=signals,
    needs=lambda p: ind.settle(int(p["slow"])) + ind.settle(int(p["signal"])) + 1,
    check=lambda p: None if p["fast"] < p["slow"] else "fast must be smaller than slow",
)
