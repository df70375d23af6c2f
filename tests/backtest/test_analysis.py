"""Grid sweep, walk-forward and Monte Carlo against direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.backtest import analysis, engine, metrics
from services.backtest.engine import EngineConfig
from services.backtest.strategies import get_strategy


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 4000
    close = np.round(1.1 + np.cumsum(rng.integers(-3, 4, n)) * 1e-5, 5)
    return pd.DataFrame(
        {
            "time": 1_781_431_200 + 60 * np.arange(n),
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "ticks": 1,
        }
    )


def direct(
    candles: pd.DataFrame, params: dict, cfg: EngineConfig, start: int = 0, stop: int | None = None
) -> engine.Trades:
    sig = get_strategy("sma_cross").signals(candles, **params)
    return engine.run(
        candles["time"].to_numpy(),
        candles["close"].to_numpy(),
        sig.direction,
        sig.confidence,
        cfg,
        60,
        start,
        stop,
    )


def test_grid_rows_and_best(candles: pd.DataFrame) -> None:
    cfg = EngineConfig()
    ranges = {"fast": analysis.parse_range("fast", "2:6:2"), "slow": analysis.parse_range("slow", "5,10,20")}
    assert ranges == {"fast": [2, 4, 6], "slow": [5, 10, 20]}
    out = analysis.grid(candles, get_strategy("sma_cross"), {}, ranges, cfg, 60, "net_profit")
    assert out["skipped"] == 1  # fast 6, slow 5
    assert len(out["rows"]) == 8
    nets = {}
    for row in out["rows"]:
        net = metrics.compute(direct(candles, row["params"], cfg), cfg)["net_profit"]
        assert row["metrics"]["net_profit"] == net
        nets[(row["params"]["fast"], row["params"]["slow"])] = net
    best = max(nets, key=nets.get)
    assert (out["best"]["params"]["fast"], out["best"]["params"]["slow"]) == best
    heat = out["heatmap"]
    assert heat["values"][heat["ys"].index(10)][heat["xs"].index(4)] == nets[(4, 10)]
    assert heat["values"][heat["ys"].index(5)][heat["xs"].index(6)] is None


def test_walk_forward_reports_out_of_sample_only(candles: pd.DataFrame) -> None:
    cfg = EngineConfig()
    ranges = {"fast": [2, 3, 5], "slow": [10, 20]}
    out = analysis.walk_forward(
        candles, get_strategy("sma_cross"), {}, ranges, cfg, 60, 1000, 500, "net_profit"
    )
    assert len(out["windows"]) == 6  # starts 0, 500, …, 2500
    total = 0
    for w, window in enumerate(out["windows"]):
        s = w * 500
        scores = {
            (f, sl): metrics.compute(direct(candles, {"fast": f, "slow": sl}, cfg, s, s + 1000), cfg)[
                "net_profit"
            ]
            for f in ranges["fast"]
            for sl in ranges["slow"]
        }
        best = max(scores.values())
        assert window["train_metric"] == best
        p = window["params"]
        assert scores[(p["fast"], p["slow"])] == best
        oos = direct(candles, p, cfg, s + 1000, s + 1500)
        assert window["test"]["trades"] == len(oos)
        assert np.all((oos.entry_index >= s + 1000) & (oos.entry_index < s + 1500))
        total += len(oos)
    assert out["out_of_sample"]["trades"] == total


def test_monte_carlo_shuffles_the_order(candles: pd.DataFrame) -> None:
    cfg = EngineConfig(balance=100, stake=10)
    trades = direct(candles, {"fast": 3, "slow": 10}, cfg)
    mc = analysis.monte_carlo(trades, cfg, runs=200, seed=1)
    final = 100 + trades.pnl.sum()
    assert all(v == pytest.approx(final) for v in mc["final_balance"].values())
    dd = mc["max_drawdown"]
    assert 0 < dd["p5"] <= dd["p50"] <= dd["p95"]
    # With a 100 balance and 10 stakes over hundreds of coin-flip trades, halving is common.
    assert 0 < mc["ruin_probability"] <= 1
    again = analysis.monte_carlo(trades, cfg, runs=200, seed=1)
    assert again == mc


def test_monte_carlo_of_all_losses_is_always_ruin() -> None:
    n = 10
    cfg = EngineConfig(balance=10, stake=1)
    trades = engine.run(
        np.arange(n + 1) * 60, np.arange(n + 1, 0, -1.0), np.ones(n + 1, np.int8), np.ones(n + 1), cfg
    )
    mc = analysis.monte_carlo(trades, cfg, runs=20)
    assert mc["ruin_probability"] == 1.0
    assert mc["max_drawdown"]["p50"] == 10.0
