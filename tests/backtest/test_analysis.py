"""Grid sweep, walk-forward and Monte Carlo against direct computations."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from quantumflux.backtest import analysis, engine
from quantumflux.backtest.engine import EngineConfig
from quantumflux.backtest.strategies import get_strategy


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


# Prices are multiples of 1e-5 here, so moving averages that are equal in exact arithmetic may
# differ in the last bits: the strategy treats anything within 1e-10 of the price as equal.
TIE = 1e-10


def plain_sma_cross(close: list[float], fast: int, slow: int) -> list[int]:
    """The sma_cross rule written out as a loop: +1 where the fast average goes above the slow one,
    -1 where it goes below, 0 elsewhere (no average before it has enough candles)."""
    state: list[int | None] = []
    for i in range(len(close)):
        if i + 1 < slow:
            state.append(None)
            continue
        diff = sum(close[i + 1 - fast : i + 1]) / fast - sum(close[i + 1 - slow : i + 1]) / slow
        tol = TIE * abs(close[i])
        state.append(1 if diff > tol else -1 if diff < -tol else 0)
    out = [0]
    for prev, now in itertools.pairwise(state):
        if prev is None or now is None:
            out.append(0)
        else:
            out.append(1 if now == 1 and prev <= 0 else -1 if now == -1 and prev >= 0 else 0)
    return out


def plain_contracts(
    close: list[float], signal: list[int], start: int, stop: int, cfg: EngineConfig
) -> tuple[int, float]:
    """One-candle contracts on the signals at ``start <= i < stop``: how many, and the net profit."""
    trades, net = 0, 0.0
    for i in range(start, min(stop, len(close) - 1)):
        if signal[i] == 0:
            continue
        trades += 1
        move = close[i + 1] - close[i]
        if move * signal[i] > 0:
            net += cfg.stake * cfg.payout
        elif move * signal[i] < 0:
            net -= cfg.stake
    return trades, net


def test_grid_rows_and_best(candles: pd.DataFrame) -> None:
    cfg = EngineConfig()
    ranges = {"fast": analysis.parse_range("fast", "2:6:2"), "slow": analysis.parse_range("slow", "5,10,20")}
    assert ranges == {"fast": [2, 4, 6], "slow": [5, 10, 20]}
    out = analysis.grid(candles, get_strategy("sma_cross"), {}, ranges, cfg, 60, "net_profit")
    assert out["skipped"] == 1  # fast 6, slow 5
    assert len(out["rows"]) == 8
    close = candles["close"].tolist()
    nets = {}
    for row in out["rows"]:
        fast, slow = row["params"]["fast"], row["params"]["slow"]
        trades, net = plain_contracts(close, plain_sma_cross(close, fast, slow), 0, len(close), cfg)
        assert row["metrics"]["trades"] == trades
        assert row["metrics"]["net_profit"] == pytest.approx(net, abs=1e-9)
        nets[(fast, slow)] = net
    assert len(set(nets.values())) == len(nets)  # no tie: the best is one set
    best = max(nets, key=nets.get)
    assert (out["best"]["params"]["fast"], out["best"]["params"]["slow"]) == best
    heat = out["heatmap"]
    assert heat["values"][heat["ys"].index(10)][heat["xs"].index(4)] == pytest.approx(nets[(4, 10)], abs=1e-9)
    assert heat["values"][heat["ys"].index(5)][heat["xs"].index(6)] is None


def test_walk_forward_reports_out_of_sample_only(candles: pd.DataFrame) -> None:
    cfg = EngineConfig()
    ranges = {"fast": [2, 3, 5], "slow": [10, 20]}
    out = analysis.walk_forward(
        candles, get_strategy("sma_cross"), {}, ranges, cfg, 60, 1000, 500, "net_profit"
    )
    assert len(out["windows"]) == 6  # starts 0, 500, …, 2500
    close = candles["close"].tolist()
    signal = {(f, sl): plain_sma_cross(close, f, sl) for f in ranges["fast"] for sl in ranges["slow"]}
    total = 0
    net = 0.0
    for w, window in enumerate(out["windows"]):
        s = w * 500
        scores = {combo: plain_contracts(close, sig, s, s + 1000, cfg)[1] for combo, sig in signal.items()}
        best = max(scores.values())
        assert window["train_metric"] == pytest.approx(best, abs=1e-9)
        p = window["params"]
        assert scores[(p["fast"], p["slow"])] == pytest.approx(best, abs=1e-9)
        trades, gained = plain_contracts(close, signal[(p["fast"], p["slow"])], s + 1000, s + 1500, cfg)
        assert window["test"]["trades"] == trades
        assert window["test"]["net_profit"] == pytest.approx(gained, abs=1e-9)
        assert window["test_window"] == [int(candles["time"][s + 1000]), int(candles["time"][s + 1499])]
        total += trades
        net += gained
    assert out["out_of_sample"]["trades"] == total
    assert out["out_of_sample"]["net_profit"] == pytest.approx(net, abs=1e-9)


def plain_monte_carlo(pnl: list[float], balance: float, runs: int, seed: int, ruin: float) -> dict:
    """Each run: the trades in a shuffled order (the order of ``runs`` rows of uniform draws from
    the seed, as documented), the balance walked trade by trade."""
    rng = np.random.default_rng(seed)
    dds, ruined = [], 0
    for _ in range(runs):
        order = np.argsort(rng.random(len(pnl)))
        cash = peak = balance
        worst = 0.0
        low = balance
        for k in order:
            cash += pnl[k]
            peak = max(peak, cash)
            worst = max(worst, peak - cash)
            low = min(low, cash)
        dds.append(worst)
        ruined += low <= ruin * balance
    return {"ruin": ruined / runs, "dd": dds}


def test_monte_carlo_shuffles_the_order(candles: pd.DataFrame) -> None:
    cfg = EngineConfig(balance=100, stake=10)
    trades = direct(candles, {"fast": 3, "slow": 10}, cfg)
    mc = analysis.monte_carlo(trades, cfg, runs=200, seed=1)
    final = 100 + trades.pnl.sum()
    assert all(v == pytest.approx(final) for v in mc["final_balance"].values())
    want = plain_monte_carlo(trades.pnl.tolist(), 100.0, 200, 1, 0.5)
    assert mc["ruin_probability"] == want["ruin"]
    for p in (5, 25, 50, 75, 95):
        assert mc["max_drawdown"][f"p{p}"] == pytest.approx(np.percentile(want["dd"], p), abs=1e-9)
    # With a 100 balance and 10 stakes over hundreds of coin-flip trades, halving is common.
    assert 0.2 < mc["ruin_probability"] < 1
    again = analysis.monte_carlo(trades, cfg, runs=200, seed=1)
    assert again == mc


def test_monte_carlo_ruin_odds_of_one_loss_and_one_win() -> None:
    # A loss of 5 and a win of 5 from a balance of 10: ruined (balance ≤ 5) exactly when the loss
    # comes first, so in half the orders; the drawdown is 5 either way, 50 % or 33.3 % of the peak.
    cfg = EngineConfig(balance=10, stake=5, payout=1.0)
    trades = engine.run(np.arange(3) * 60, np.array([1.0, 0.9, 1.0]), np.ones(3, np.int8), np.ones(3), cfg)
    assert trades.pnl.tolist() == [-5.0, 5.0]
    mc = analysis.monte_carlo(trades, cfg, runs=20_000, seed=3)
    assert mc["ruin_probability"] == pytest.approx(0.5, abs=0.02)  # sd of the estimate: 0.0035
    assert set(mc["max_drawdown"].values()) == {5.0}
    assert mc["max_drawdown_pct"]["p5"] == pytest.approx(100 / 3) and mc["max_drawdown_pct"]["p95"] == 50.0
    assert set(mc["final_balance"].values()) == {10.0}


def test_monte_carlo_of_all_losses_is_always_ruin() -> None:
    n = 10
    cfg = EngineConfig(balance=10, stake=1)
    trades = engine.run(
        np.arange(n + 1) * 60, np.arange(n + 1, 0, -1.0), np.ones(n + 1, np.int8), np.ones(n + 1), cfg
    )
    mc = analysis.monte_carlo(trades, cfg, runs=20)
    assert mc["ruin_probability"] == 1.0
    assert mc["max_drawdown"]["p50"] == 10.0
