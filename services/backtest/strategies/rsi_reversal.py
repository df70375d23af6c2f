"""``rsi_reversal``: trade the turn back out of an oversold or overbought RSI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import indicators as ind
from .base import Param, Signals, Strategy, close_of, ones_where


def signals(
    candles: pd.DataFrame, *, period: int = 14, oversold: float = 30.0, overbought: float = 70.0
) -> Signals:
    """Call when RSI rises back above ``oversold`` (≤ at i−1, > at i); put when it falls back
    below ``overbought`` (≥ at i−1, < at i)."""
    r = ind.rsi(close_of(candles), period)
    prev = np.concatenate(([np.nan], r[:-1]))
    call = (prev <= oversold) & (r > oversold)
    put = (prev >= overbought) & (r < overbought)
    return ones_where(call.astype(np.int8) - put.astype(np.int8))


STRATEGY = Strategy(
    name="rsi_reversal",
    summary="Call when RSI climbs back out of oversold; put when it falls back out of overbought.",
    params=(
        Param("period", int, 14, 2, 1000, "Candles in the RSI (Wilder's smoothing)."),
        Param("oversold", float, 30.0, 1, 99, "RSI level below which the market is oversold."),
        Param("overbought", float, 70.0, 1, 99, "RSI level above which the market is overbought."),
    ),
    compute=signals,
    needs=lambda p: ind.settle(2 * int(p["period"]) - 1) + 1,
    check=lambda p: None if p["oversold"] < p["overbought"] else "oversold must be below overbought",
)
