"""Indicators on numpy arrays, vectorised, with the definitions of the ``ta`` package.

Every function takes float64 arrays and returns float64 arrays of the same length, NaN during the
warm-up (the first candles, before the indicator has enough history). Values at candle ``i`` use
candles ``0..i`` only, so an indicator never looks ahead.

Recursive indicators (EMA, RSI, MACD, ATR) depend, in theory, on every earlier candle; the weight
of a candle ``k`` steps back falls like ``(1 - alpha) ** k``, so a window of :func:`settle` candles
gives the same value to within about 1e-12 of the price (see docs/strategies.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Array = np.ndarray


def _arr(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


def _series(values: Array) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=np.float64), copy=False)


def sma(close: Array, period: int) -> Array:
    """Simple moving average of the last ``period`` values."""
    return _arr(_series(close).rolling(period, min_periods=period).mean())


def ema(close: Array, period: int) -> Array:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, started at the first value.

    NaN for the first ``period - 1`` candles (as ``ta``'s EMAIndicator).
    """
    return _arr(_series(close).ewm(span=period, min_periods=period, adjust=False).mean())


def rsi(close: Array, period: int = 14) -> Array:
    """Relative strength index with Wilder's smoothing (``alpha = 1 / period``), 0..100."""
    s = _series(close)
    diff = s.diff(1)
    up = diff.where(diff > 0, 0.0)
    down = -diff.where(diff < 0, 0.0)
    avg_up = up.ewm(alpha=1 / period, min_periods=period, adjust=False).mean().to_numpy()
    avg_down = down.ewm(alpha=1 / period, min_periods=period, adjust=False).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + avg_up / avg_down)
    out = np.where(avg_down == 0, 100.0, out)
    out[np.isnan(avg_up) | np.isnan(avg_down)] = np.nan
    return out


def macd(close: Array, fast: int = 12, slow: int = 26, signal: int = 9) -> tuple[Array, Array, Array]:
    """MACD line (EMA fast − EMA slow), its signal line (EMA of the line) and the histogram."""
    line = ema(close, fast) - ema(close, slow)
    sig = _series(line).ewm(span=signal, min_periods=signal, adjust=False).mean().to_numpy()
    return line, sig, line - sig


def bollinger(close: Array, period: int = 20, width: float = 2.0) -> tuple[Array, Array, Array]:
    """Bollinger bands: middle SMA, upper and lower at ``width`` population standard deviations."""
    roll = _series(close).rolling(period, min_periods=period)
    mid = roll.mean().to_numpy()
    std = roll.std(ddof=0).to_numpy()
    return mid, mid + width * std, mid - width * std


def true_range(high: Array, low: Array, close: Array) -> Array:
    """True range; the first candle, with no previous close, uses high − low."""
    prev = np.concatenate(([np.nan], np.asarray(close, dtype=np.float64)[:-1]))
    hl = high - low
    with np.errstate(invalid="ignore"):
        out: Array = np.fmax(hl, np.fmax(np.abs(high - prev), np.abs(low - prev)))
    return out


def atr(high: Array, low: Array, close: Array, period: int = 14) -> Array:
    """Average true range (Wilder): the mean of the first ``period`` true ranges, then smoothed."""
    tr = true_range(np.asarray(high, np.float64), np.asarray(low, np.float64), np.asarray(close, np.float64))
    out = np.full(len(tr), np.nan)
    if len(tr) < period:
        return out
    seeded = tr[period - 1 :].copy()
    seeded[0] = tr[:period].mean()
    out[period - 1 :] = _series(seeded).ewm(alpha=1 / period, adjust=False).mean().to_numpy()
    return out


def stochastic(
    high: Array, low: Array, close: Array, period: int = 14, smooth: int = 3
) -> tuple[Array, Array]:
    """Stochastic oscillator %K (0..100) over ``period`` candles and %D, its ``smooth``-candle SMA."""
    lo = _series(low).rolling(period, min_periods=period).min().to_numpy()
    hi = _series(high).rolling(period, min_periods=period).max().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 100.0 * (np.asarray(close, np.float64) - lo) / (hi - lo)
    d = _series(k).rolling(smooth, min_periods=smooth).mean().to_numpy()
    return k, d


def settle(period: int) -> int:
    """Candles after which a recursive indicator of ``period`` has forgotten its start (< 1e-12)."""
    alpha = 2.0 / (period + 1.0)
    return int(np.ceil(np.log(1e-12) / np.log(1.0 - alpha))) + period
