"""Strategies: no look-ahead, live-window parity, the quantum_flux formula, parameters, user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta

from quantumflux.backtest.strategies import STRATEGIES, StrategyError, get_strategy, load_strategy_file


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    n = 2500
    close = np.round(1.1 + np.cumsum(rng.normal(0, 1.5e-4, n)), 5)
    open_ = np.concatenate(([close[0]], close[:-1]))
    high = np.maximum(open_, close) + 0.00003
    low = np.minimum(open_, close) - 0.00003
    return pd.DataFrame(
        {
            "time": 1_781_431_200 + 60 * np.arange(n),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "ticks": 1,
        }
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_no_look_ahead(candles: pd.DataFrame, name: str) -> None:
    strategy = get_strategy(name)
    full = strategy.signals(candles)
    assert (full.direction != 0).sum() > 10
    for cut in (700, 1500):
        part = strategy.signals(candles.iloc[:cut])
        assert np.array_equal(part.direction, full.direction[:cut])
        assert np.allclose(part.confidence, full.confidence[:cut])


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_a_live_window_of_lookback_candles_decides_like_the_backtest(
    candles: pd.DataFrame, name: str
) -> None:
    strategy = get_strategy(name)
    full = strategy.signals(candles)
    need = strategy.lookback()
    positions = [i for i in range(need, len(candles), 7)]
    assert len(positions) > 100
    for i in positions:
        # What the live service has: every closed candle up to i (it keeps only the last `need`).
        window = candles.iloc[i - need + 1 : i + 1].reset_index(drop=True)
        direction, confidence = strategy.decide(window)
        assert direction == full.direction[i], (name, i)
        assert confidence == pytest.approx(full.confidence[i], abs=1e-9)
    assert strategy.decide(candles.iloc[: need - 1]) == (0, 0.0)


def test_quantum_flux_confidence_is_the_weighted_agreement(candles: pd.DataFrame) -> None:
    c = candles["close"]
    sign = np.sign
    v_trend = sign(c - ta.trend.SMAIndicator(c, 50).sma_indicator())
    v_ema = sign(ta.trend.EMAIndicator(c, 9).ema_indicator() - ta.trend.EMAIndicator(c, 21).ema_indicator())
    r = ta.momentum.RSIIndicator(c, 14).rsi()
    v_rsi = np.where((r > 50) & (r < 70), 1, np.where((r < 50) & (r > 30), -1, 0))
    v_macd = sign(ta.trend.MACD(c, 26, 12, 9).macd_diff())
    score = (0.3 * v_trend + 0.2 * v_ema + 0.2 * v_rsi + 0.3 * v_macd).to_numpy()
    ok = ~np.isnan(score)
    ok[:60] = False
    sig = get_strategy("quantum_flux").signals(candles)
    assert np.allclose(sig.confidence[ok], np.abs(score[ok]), atol=1e-12)
    strong = np.where(score >= 0.7 - 1e-9, 1, np.where(score <= -0.7 + 1e-9, -1, 0))
    fresh = np.where(strong != np.concatenate(([0], strong[:-1])), strong, 0)
    assert np.array_equal(sig.direction[ok], fresh[ok])
    assert (sig.direction != 0).sum() > 20


def test_parameters_are_checked_with_clear_messages() -> None:
    s = get_strategy("sma_cross")
    assert s.resolve({"fast": "3", "slow": 10}) == {"fast": 3, "slow": 10}
    with pytest.raises(StrategyError, match="unknown parameter 'fats' for sma_cross"):
        s.resolve({"fats": 3})
    with pytest.raises(StrategyError, match="fast must be a whole number"):
        s.resolve({"fast": "2.5"})
    with pytest.raises(StrategyError, match="fast must be a number"):
        s.resolve({"fast": "five"})
    with pytest.raises(StrategyError, match="fast must be smaller than slow"):
        s.resolve({"fast": 30})
    with pytest.raises(StrategyError, match="unknown strategy 'nope'"):
        get_strategy("nope")


def test_every_strategy_has_a_parameter_schema() -> None:
    for s in STRATEGIES.values():
        schema = s.schema()
        props = schema["parameters"]["properties"]
        assert props and all(
            {"type", "default", "minimum", "maximum", "description"} <= set(p) for p in props.values()
        )
        assert s.resolve({}) == s.defaults()


def test_a_user_strategy_file(tmp_path: Path, candles: pd.DataFrame) -> None:
    f = tmp_path / "my_strategy.py"
    f.write_text(
        "import numpy as np\n"
        "PARAMS = {'step': 3}\n"
        "def signals(candles, step=3):\n"
        "    '''Call on every step-th candle.'''\n"
        "    d = np.zeros(len(candles), dtype=np.int8)\n"
        "    d[::step] = 1\n"
        "    return d, np.full(len(candles), 0.5)\n"
    )
    s = load_strategy_file(f)
    assert s.name == "my_strategy" and s.summary == "Call on every step-th candle."
    sig = s.signals(candles, step="5")
    assert sig.direction.sum() == len(range(0, len(candles), 5))
    bad = tmp_path / "bad.py"
    bad.write_text("def signals(candles):\n    return [1], [0.5]\n")
    with pytest.raises(StrategyError, match="one direction and one confidence per candle"):
        load_strategy_file(bad).signals(candles)
    broken = tmp_path / "broken.py"
    broken.write_text("def signals(candles:\n")
    with pytest.raises(StrategyError, match=r"broken.py:1:"):
        load_strategy_file(broken)
    with pytest.raises(StrategyError, match="no such strategy file"):
        load_strategy_file(tmp_path / "missing.py")
