"""``bollinger_reversal``: expect a move back when the close leaves the Bollinger bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import indicators as ind
from .base import Param, Signals, Strategy, close_of, crossings, ones_where, state


def signals(candles: pd.DataFrame, *, period: int = 20, width: float = 2.0) -> Signals:
    """Call when the close falls below the lower band (inside or on it at i−1); put when it
    rises above the upper band."""
    close = close_of(candles)
    _, upper, lower = ind.bollinger(close, period, width)
    below = crossings(state(lower, close, close)) == 1
    above = crossings(state(close, upper, close)) == 1
    return ones_where(below.astype(np.int8) - above.astype(np.int8))


STRATEGY = Strategy(
    name="bollinger_reversal",
    summary="Call when the close drops below the lower Bollinger band; put when it rises above the upper one.",
    params=(
        Param("period", int, 20, 2, 10_000, "Candles in the middle moving average and the deviation."),
        Param("width", float, 2.0, 0.1, 10, "Distance of the bands in standard deviations."),
    ),
    compute=signals,
    needs=lambda p: int(p["period"]) + 1,
)
