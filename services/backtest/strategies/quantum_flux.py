"""``quantum_flux``: a confluence of trend, moving-average, momentum and MACD votes.

At every closed candle four indicators each vote +1 (up), −1 (down) or 0 (no view):

- trend: close above SMA(``trend``) → +1, below → −1;
- averages: EMA(``ema_fast``) above EMA(``ema_slow``) → +1, below → −1;
- momentum: 50 < RSI(``rsi_period``) < ``rsi_high`` → +1, ``rsi_low`` < RSI < 50 → −1, else 0
  (RSI at or beyond its extremes is stretched, not momentum);
- MACD: histogram (12/26/9 by default) above 0 → +1, below → −1.

(Equal within 1e-10 of the price counts as equal: 0.) The score is the weighted agreement
``S = (w_trend·v_trend + w_ema·v_ema + w_rsi·v_rsi + w_macd·v_macd) / (w_trend + w_ema + w_rsi + w_macd)``,
in [−1, 1]; the confidence is ``|S|``. A signal fires at candle i in the direction of ``S`` when
``|S| ≥ threshold`` at i and the candle before did not already have ``|S| ≥ threshold`` in the same
direction: the strategy trades a confluence when it forms, not every candle it lasts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import indicators as ind
from .base import TIE, Param, Signals, Strategy, close_of, state


def signals(
    candles: pd.DataFrame,
    *,
    trend: int = 50,
    ema_fast: int = 9,
    ema_slow: int = 21,
    rsi_period: int = 14,
    rsi_low: float = 30.0,
    rsi_high: float = 70.0,
    macd_fast: int = 12,
    macd_slow: int = 26,
    macd_signal: int = 9,
    w_trend: float = 0.3,
    w_ema: float = 0.2,
    w_rsi: float = 0.2,
    w_macd: float = 0.3,
    threshold: float = 0.7,
) -> Signals:
    """Direction and confidence of the confluence (see the module docstring for the formula)."""
    close = close_of(candles)
    v_trend = state(close, ind.sma(close, trend), close)
    v_ema = state(ind.ema(close, ema_fast), ind.ema(close, ema_slow), close)
    r = ind.rsi(close, rsi_period)
    v_rsi = np.where((r > 50) & (r < rsi_high), 1.0, np.where((r < 50) & (r > rsi_low), -1.0, 0.0))
    v_rsi[np.isnan(r)] = np.nan
    _, _, hist = ind.macd(close, macd_fast, macd_slow, macd_signal)
    v_macd = state(hist, np.zeros_like(hist), close)
    total = w_trend + w_ema + w_rsi + w_macd
    score = (w_trend * v_trend + w_ema * v_ema + w_rsi * v_rsi + w_macd * v_macd) / total
    score = np.where(np.isnan(score), 0.0, score)
    # A score a hair under the threshold from float rounding of the weights still counts.
    strong = np.where(score >= threshold - TIE, 1, np.where(score <= -threshold + TIE, -1, 0)).astype(np.int8)
    prev = np.concatenate(([0], strong[:-1])).astype(np.int8)
    direction = np.where(strong != prev, strong, 0).astype(np.int8)
    return Signals(direction, np.abs(score))


def _needs(p: dict[str, Any]) -> int:
    macd_need = ind.settle(int(p["macd_slow"])) + ind.settle(int(p["macd_signal"]))
    return 1 + max(
        int(p["trend"]),
        ind.settle(int(p["ema_slow"])),
        ind.settle(2 * int(p["rsi_period"]) - 1),
        macd_need,
    )


def _check(p: dict[str, Any]) -> str | None:
    if not p["ema_fast"] < p["ema_slow"]:
        return "ema_fast must be smaller than ema_slow"
    if not p["macd_fast"] < p["macd_slow"]:
        return "macd_fast must be smaller than macd_slow"
    if not p["rsi_low"] < 50 < p["rsi_high"]:
        return "rsi_low must be below 50 and rsi_high above 50"
    if p["w_trend"] + p["w_ema"] + p["w_rsi"] + p["w_macd"] <= 0:
        return "at least one weight must be above 0"
    return None


STRATEGY = Strategy(
    name="quantum_flux",
    summary="Trades when trend, moving averages, RSI momentum and MACD agree; confidence is their weighted agreement.",
    params=(
        Param("trend", int, 50, 2, 10_000, "Candles in the trend SMA the close is compared with."),
        Param("ema_fast", int, 9, 1, 1000, "Candles in the fast EMA."),
        Param("ema_slow", int, 21, 2, 1000, "Candles in the slow EMA."),
        Param("rsi_period", int, 14, 2, 1000, "Candles in the RSI."),
        Param("rsi_low", float, 30.0, 1, 49, "RSI below this is oversold: no momentum vote."),
        Param("rsi_high", float, 70.0, 51, 99, "RSI above this is overbought: no momentum vote."),
        Param("macd_fast", int, 12, 1, 1000, "Fast EMA of the MACD."),
        Param("macd_slow", int, 26, 2, 1000, "Slow EMA of the MACD."),
        Param("macd_signal", int, 9, 1, 1000, "EMA of the MACD line (signal line)."),
        Param("w_trend", float, 0.3, 0, 1, "Weight of the trend vote."),
        Param("w_ema", float, 0.2, 0, 1, "Weight of the moving-average vote."),
        Param("w_rsi", float, 0.2, 0, 1, "Weight of the momentum (RSI) vote."),
        Param("w_macd", float, 0.3, 0, 1, "Weight of the MACD vote."),
        Param("threshold", float, 0.7, 0.01, 1, "Agreement |S| needed for a signal."),
    ),
    compute=signals,
    needs=_needs,
    check=_check,
)
