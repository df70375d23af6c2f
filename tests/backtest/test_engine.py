"""The engine against an independent loop, and the metrics against a hand computation."""

from __future__ import annotations

import calendar
import math
import statistics

import numpy as np
import pandas as pd
import pytest

from quantumflux.backtest import engine, metrics
from quantumflux.backtest.engine import EngineConfig, EngineError
from quantumflux.backtest.strategies import get_strategy

T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))


def random_candles(n: int, seed: int) -> pd.DataFrame:
    """A random walk on a 0.00001 price grid: many equal closes, so ties and equal averages happen."""
    rng = np.random.default_rng(seed)
    ticks = 110_000 + np.cumsum(rng.integers(-2, 3, n))
    close = ticks / 100_000
    return pd.DataFrame(
        {
            "time": T0 + 60 * np.arange(n),
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "ticks": 1,
        }
    )


def loop_sma_cross(close: list[float], fast: int, slow: int, cfg: EngineConfig) -> list[tuple]:
    """sma_cross and the engine rules written as a plain loop, one candle at a time."""

    def sma(i: int, p: int) -> float:
        return math.fsum(close[i - p + 1 : i + 1]) / p

    def side(i: int) -> int:
        diff = sma(i, fast) - sma(i, slow)
        tol = 1e-10 * abs(close[i])
        return 1 if diff > tol else -1 if diff < -tol else 0

    out = []
    free_at = 0
    balance = cfg.balance
    for i in range(slow, len(close)):
        now, before = side(i), side(i - 1)
        if now == 1 and before <= 0:
            d = 1
        elif now == -1 and before >= 0:
            d = -1
        else:
            continue
        if i + cfg.expiry >= len(close):
            continue
        if not cfg.overlap and i < free_at:
            continue
        free_at = i + cfg.expiry
        move = close[i + cfg.expiry] - close[i]
        outcome = 0 if move == 0 else (1 if (move > 0) == (d > 0) else -1)
        stake = cfg.stake if cfg.fraction is None else cfg.fraction * balance
        pnl = stake * cfg.payout if outcome == 1 else -stake if outcome == -1 else 0.0
        balance += pnl
        out.append((i, d, outcome, pnl))
    return out


@pytest.mark.parametrize(
    ("seed", "fast", "slow", "cfg"),
    [
        (1, 5, 20, EngineConfig()),
        (2, 3, 8, EngineConfig(expiry=3)),
        (3, 3, 8, EngineConfig(expiry=3, overlap=True, payout=0.85, stake=5)),
        (4, 2, 6, EngineConfig(expiry=2, fraction=0.05)),
    ],
)
def test_sma_cross_trades_equal_an_independent_loop(
    seed: int, fast: int, slow: int, cfg: EngineConfig
) -> None:
    candles = random_candles(3000, seed)
    sig = get_strategy("sma_cross").signals(candles, fast=fast, slow=slow)
    trades = engine.run(
        candles["time"].to_numpy(), candles["close"].to_numpy(), sig.direction, sig.confidence, cfg, 60
    )
    expected = loop_sma_cross(candles["close"].tolist(), fast, slow, cfg)
    assert len(expected) > 50
    assert trades.entry_index.tolist() == [e[0] for e in expected]
    assert trades.direction.tolist() == [e[1] for e in expected]
    assert trades.outcome.tolist() == [e[2] for e in expected]
    assert any(e[2] == 0 for e in expected)  # ties were exercised
    if cfg.fraction is None:
        assert trades.pnl.tolist() == [e[3] for e in expected]
    else:
        assert np.allclose(trades.pnl, [e[3] for e in expected], rtol=1e-12, atol=0)


def test_min_confidence_and_a_gap_in_the_data() -> None:
    n = 12
    close = np.array([1.0, 1.1, 1.2, 1.1, 1.0, 1.3, 1.2, 1.1, 1.4, 1.5, 1.4, 1.6])
    times = T0 + 60 * np.arange(n)
    times[6:] += 600  # candles 6.. come ten minutes late: the contract of candle 5 can't settle at 6
    direction = np.array([1, 1, -1, 0, 1, 1, -1, 0, -1, 0, 0, 0], dtype=np.int8)
    confidence = np.array([0.9, 0.4, 0.8, 0, 0.7, 0.9, 0.95, 0, 0.6, 0, 0, 0])
    cfg = EngineConfig(min_confidence=0.6)
    trades = engine.run(times, close, direction, confidence, cfg, timeframe=60)
    assert trades.entry_index.tolist() == [0, 2, 4, 6, 8]
    assert trades.skipped_gaps == 1
    assert trades.outcome.tolist() == [1, 1, 1, 1, -1]


def test_a_gap_voids_signals_before_one_contract_at_a_time_is_applied() -> None:
    n = 14
    close = 1.0 + 0.01 * np.arange(n)
    times = T0 + 60 * np.arange(n)
    times[7:] += 300  # a gap between candles 6 and 7: the contracts of 5 and 6 cannot expire
    direction = np.zeros(n, dtype=np.int8)
    direction[[0, 1, 2, 4, 5, 6, 8, 9, 10, 12]] = 1
    cfg = EngineConfig(expiry=2)
    trades = engine.run(times, close, direction, np.ones(n), cfg, timeframe=60)
    # 5 and 6 are voided; then 0 (to 2), 2 (to 4), 4 (to 6), 8 (to 10), 10 (to 12); 12 has no expiry.
    assert trades.entry_index.tolist() == [0, 2, 4, 8, 10]
    assert trades.skipped_gaps == 2
    overlapping = engine.run(times, close, direction, np.ones(n), EngineConfig(expiry=2, overlap=True), 60)
    assert overlapping.entry_index.tolist() == [0, 1, 2, 4, 8, 9, 10]


@pytest.mark.parametrize("cfg", [EngineConfig(stake=3.3, payout=0.87), EngineConfig(fraction=0.03)])
def test_one_payout_for_all_contracts_pays_what_a_payout_each_pays(cfg: EngineConfig) -> None:
    outcome = np.random.default_rng(3).integers(-1, 2, 5000).astype(np.int8)
    each = engine.pay(outcome, np.full(len(outcome), cfg.payout), cfg)
    one = engine.pay(outcome, cfg.payout, cfg)
    for a, b in zip(each, one, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)  # the same floats, not approximately


def test_bad_engine_settings_say_which() -> None:
    with pytest.raises(EngineError, match="expiry"):
        EngineConfig(expiry=0)
    with pytest.raises(EngineError, match="payout"):
        EngineConfig(payout=0)
    with pytest.raises(EngineError, match="fraction"):
        EngineConfig(fraction=1.5)


def test_metrics_equal_a_hand_computation() -> None:
    close = np.array([1.0, 1.1, 1.0, 1.0, 1.2, 1.1, 1.3, 1.2])
    times = T0 + 60 * np.arange(len(close))
    # win, loss, tie, win, loss, loss, win
    direction = np.array([1, 1, -1, 1, 1, -1, -1, 0], dtype=np.int8)
    cfg = EngineConfig(payout=0.8, stake=10, balance=100, overlap=True)
    trades = engine.run(times, close, direction, np.ones(8), cfg)
    m = metrics.compute(trades, cfg)
    assert trades.pnl.tolist() == [8.0, -10.0, 0.0, 8.0, -10.0, -10.0, 8.0]
    assert trades.balance.tolist() == [108.0, 98.0, 98.0, 106.0, 96.0, 86.0, 94.0]
    assert (m["trades"], m["wins"], m["losses"], m["ties"]) == (7, 3, 3, 1)
    assert m["win_rate"] == 0.5
    assert m["break_even"] == pytest.approx(1 / 1.8)
    assert m["net_profit"] == pytest.approx(-6.0)
    assert m["roi"] == pytest.approx(-6.0 / 70.0)
    assert m["profit_factor"] == pytest.approx(24.0 / 30.0)
    assert m["expectancy"] == pytest.approx(-6.0 / 7.0)
    assert m["final_balance"] == pytest.approx(94.0)
    assert m["max_drawdown"] == pytest.approx(22.0)
    assert m["max_drawdown_pct"] == pytest.approx(22.0 / 108.0 * 100)
    assert m["max_drawdown_trades"] == 6
    assert m["max_drawdown_seconds"] == 360  # from the 108 peak (expiry 10:01) to the last trade (10:07)
    assert m["longest_losing_streak"] == 2
    assert m["longest_winning_streak"] == 1
    r = [0.8, -1.0, 0.0, 0.8, -1.0, -1.0, 0.8]
    assert m["sharpe"] == pytest.approx(statistics.mean(r) / statistics.stdev(r))
    assert m["by_hour"] == [
        {
            "hour": 10,
            "trades": 7,
            "wins": 3,
            "losses": 3,
            "ties": 1,
            "win_rate": 0.5,
            "net_profit": pytest.approx(-6.0),
        }
    ]


def test_metrics_of_no_trades() -> None:
    cfg = EngineConfig()
    trades = engine.run(np.arange(3), np.ones(3), np.zeros(3, np.int8), np.zeros(3), cfg)
    m = metrics.compute(trades, cfg)
    assert m["trades"] == 0 and m["win_rate"] is None and m["profit_factor"] is None and m["sharpe"] is None
    assert m["max_drawdown"] == 0.0 and m["final_balance"] == 1000.0


def test_sharpe_is_undefined_when_every_trade_wins_with_a_share_of_the_balance() -> None:
    # The reported 7.4e15: every contract won and stakes were 2% of the balance, so the returns
    # (P/L ÷ stake) were 0.92 up to rounding and their deviation about 1e-17.
    n = 50
    close = 1.0 + 0.001 * np.arange(n)
    cfg = EngineConfig(fraction=0.02)
    trades = engine.run(60 * np.arange(n), close, np.ones(n, np.int8), np.ones(n), cfg)
    returns = trades.pnl / trades.stake
    assert (trades.outcome == 1).all() and len(trades) == n - 1
    assert 0 < statistics.stdev(returns.tolist()) < 1e-12  # the rounding noise the bug divided by
    m = metrics.compute(trades, cfg)
    assert m["sharpe"] is None
    assert m["win_rate"] == 1.0 and m["net_profit"] > 0


def test_sharpe_is_undefined_for_one_trade_or_no_spread_and_exact_otherwise() -> None:
    assert metrics.sharpe(np.array([0.92])) is None
    assert metrics.sharpe(np.array([-1.0, -1.0, -1.0])) is None
    assert metrics.sharpe(np.array([0.0, 0.0])) is None
    # Share-of-balance stakes with wins and losses: the ratio of the returns payout and -1.
    close = np.array([1.0, 1.1, 1.0, 1.2, 1.3, 1.1, 1.4])
    direction = np.array([1, -1, 1, -1, 1, 1, 0], np.int8)
    cfg = EngineConfig(fraction=0.1, payout=0.85, overlap=True)
    trades = engine.run(60 * np.arange(7), close, direction, np.ones(7), cfg)
    assert trades.outcome.tolist() == [1, 1, 1, -1, -1, 1]
    r = [0.85, 0.85, 0.85, -1.0, -1.0, 0.85]
    m = metrics.compute(trades, cfg)
    assert m["sharpe"] == pytest.approx(statistics.mean(r) / statistics.stdev(r), rel=1e-12)


def test_settings_are_read_from_prefixed_attributes_with_the_same_checks() -> None:
    class Settings:
        paper_expiry = 3
        paper_payout = 0.8
        paper_min_confidence = 0.5
        paper_overlap = True
        paper_stake = 2.0
        paper_fraction = None
        paper_balance = 500.0

    config = EngineConfig.of(Settings(), prefix="paper_")
    assert config == EngineConfig(
        expiry=3, payout=0.8, min_confidence=0.5, overlap=True, stake=2.0, fraction=None, balance=500.0
    )
    Settings.paper_payout = 0.0
    with pytest.raises(EngineError, match="payout"):
        EngineConfig.of(Settings(), prefix="paper_")
