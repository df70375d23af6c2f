"""Indicators equal the `ta` package's within 1e-9 once both are warmed up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta

from quantumflux.backtest import indicators as ind

N = 3000
TOL = 1e-9


@pytest.fixture(scope="module")
def ohlc() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    close = 1.2 + np.cumsum(rng.normal(0, 2e-4, N))
    open_ = np.concatenate(([close[0]], close[:-1]))
    spread = np.abs(rng.normal(0, 1e-4, N))
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread[::-1]
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close})


def same(ours: np.ndarray, ref: pd.Series, warmup: int) -> None:
    ref_v = ref.to_numpy(dtype=np.float64)
    assert np.isnan(ours[: warmup - 1]).all() or warmup <= 1
    a, b = ours[warmup:], ref_v[warmup:]
    assert not np.isnan(a).any() and not np.isnan(b).any()
    assert np.max(np.abs(a - b)) <= TOL


@pytest.mark.parametrize("period", [2, 5, 20, 50])
def test_sma(ohlc: pd.DataFrame, period: int) -> None:
    same(
        ind.sma(ohlc["close"].to_numpy(), period),
        ta.trend.SMAIndicator(ohlc["close"], period).sma_indicator(),
        period,
    )


@pytest.mark.parametrize("period", [3, 9, 26])
def test_ema(ohlc: pd.DataFrame, period: int) -> None:
    same(
        ind.ema(ohlc["close"].to_numpy(), period),
        ta.trend.EMAIndicator(ohlc["close"], period).ema_indicator(),
        period,
    )


@pytest.mark.parametrize("period", [7, 14])
def test_rsi(ohlc: pd.DataFrame, period: int) -> None:
    same(
        ind.rsi(ohlc["close"].to_numpy(), period),
        ta.momentum.RSIIndicator(ohlc["close"], period).rsi(),
        period,
    )


def test_macd(ohlc: pd.DataFrame) -> None:
    ref = ta.trend.MACD(ohlc["close"], window_slow=26, window_fast=12, window_sign=9)
    line, sig, hist = ind.macd(ohlc["close"].to_numpy(), 12, 26, 9)
    same(line, ref.macd(), 26)
    same(sig, ref.macd_signal(), 26 + 9 - 1)
    same(hist, ref.macd_diff(), 26 + 9 - 1)


def test_bollinger(ohlc: pd.DataFrame) -> None:
    ref = ta.volatility.BollingerBands(ohlc["close"], window=20, window_dev=2)
    mid, upper, lower = ind.bollinger(ohlc["close"].to_numpy(), 20, 2.0)
    same(mid, ref.bollinger_mavg(), 20)
    same(upper, ref.bollinger_hband(), 20)
    same(lower, ref.bollinger_lband(), 20)


def test_atr(ohlc: pd.DataFrame) -> None:
    ref = ta.volatility.AverageTrueRange(ohlc["high"], ohlc["low"], ohlc["close"], window=14)
    ours = ind.atr(ohlc["high"].to_numpy(), ohlc["low"].to_numpy(), ohlc["close"].to_numpy(), 14)
    same(ours, ref.average_true_range(), 14)


def test_stochastic(ohlc: pd.DataFrame) -> None:
    ref = ta.momentum.StochasticOscillator(
        ohlc["high"], ohlc["low"], ohlc["close"], window=14, smooth_window=3
    )
    k, d = ind.stochastic(ohlc["high"].to_numpy(), ohlc["low"].to_numpy(), ohlc["close"].to_numpy(), 14, 3)
    same(k, ref.stoch(), 14)
    same(d, ref.stoch_signal(), 16)


def test_values_use_only_the_past(ohlc: pd.DataFrame) -> None:
    close = ohlc["close"].to_numpy()
    full = ind.rsi(close, 14)
    cut = ind.rsi(close[:1000], 14)
    assert np.array_equal(full[:1000], cut, equal_nan=True)
