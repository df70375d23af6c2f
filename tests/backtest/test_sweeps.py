"""Sweeps on real Dask clusters (worker processes started here) against this process and plain loops."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np
import pandas as pd
import psutil
import pytest
from distributed import Client, LocalCluster, get_task_stream

from quantumflux.backtest import analysis, engine, metrics, sweeps, sweeps_core
from quantumflux.backtest.engine import EngineConfig
from quantumflux.backtest.grid_kernels import prepare, signals_of
from quantumflux.backtest.strategies import get_strategy
from quantumflux.files.payouts import PayoutHistory

TIE = 1e-10  # the strategies' "equal within this share of the price"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    """A random walk on a 0.00001 grid with two gaps (missing minutes) in the times."""
    rng = np.random.default_rng(21)
    n = 3000
    close = np.round(1.1 + np.cumsum(rng.integers(-3, 4, n)) * 1e-5, 5)
    minutes = np.arange(n)
    minutes[1000:] += 1
    minutes[2200:] += 3
    return pd.DataFrame(
        {"time": 1_781_431_200 + 60 * minutes, "open": close, "high": close, "low": close, "close": close}
    )


def _start(workers: int) -> tuple[LocalCluster, Client]:
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    return cluster, Client(cluster)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _stop(cluster: LocalCluster, client: Client) -> None:
    """Close the cluster and wait until its worker processes are gone (none may outlive a test)."""
    pids = list(client.run(lambda: __import__("os").getpid()).values())
    client.close()
    cluster.close()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, f"worker processes {pids} still running"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def two() -> Iterator[tuple[LocalCluster, Client]]:
    cluster, client = _start(2)
    yield cluster, client
    _stop(cluster, client)


@pytest.fixture(scope="module")
def one() -> Iterator[tuple[LocalCluster, Client]]:
    cluster, client = _start(1)
    yield cluster, client
    _stop(cluster, client)


RANGES = {"fast": [2, 3, 5, 8], "slow": [5, 13, 21]}


def plain_row(close: list[float], times: list[int], fast: int, slow: int, cfg: EngineConfig) -> dict:
    """sma_cross and one-candle contracts as a loop: signals at turns of the fast average against
    the slow one, a contract per signal unless the next candle is not one minute later."""

    def side(i: int) -> int | None:
        if i + 1 < slow:
            return None
        diff = sum(close[i + 1 - fast : i + 1]) / fast - sum(close[i + 1 - slow : i + 1]) / slow
        return 1 if diff > TIE * close[i] else -1 if diff < -TIE * close[i] else 0

    balance, peak, worst = cfg.balance, cfg.balance, 0.0
    trades = wins = losses = 0
    net = 0.0
    sides = [side(i) for i in range(len(close))]
    for i, (before, now) in enumerate(itertools.pairwise(sides), start=1):
        if before is None or now is None or now == 0 or now == before or i + 1 >= len(close):
            continue
        if times[i + 1] - times[i] != 60:
            continue
        trades += 1
        move = (close[i + 1] - close[i]) * now
        gain = cfg.stake * cfg.payout if move > 0 else -cfg.stake if move < 0 else 0.0
        wins, losses = wins + (move > 0), losses + (move < 0)
        net += gain
        balance += gain
        peak = max(peak, balance)
        worst = max(worst, peak - balance)
    return {"trades": trades, "wins": wins, "losses": losses, "net_profit": net, "max_drawdown": worst}


def _grid(candles: pd.DataFrame, pool: sweeps.Pool | None, **extra: Any) -> dict:
    strategy = get_strategy("sma_cross")
    return analysis.grid(candles, strategy, {}, RANGES, EngineConfig(), 60, "net_profit", pool=pool, **extra)


def test_grid_is_the_same_on_one_and_two_workers_threads_and_here(candles, one, two) -> None:
    here = _grid(candles, sweeps.InProcess())
    assert _grid(candles, sweeps.InProcess(threads=2)) == here
    assert _grid(candles, sweeps.DaskPool(one[1])) == here
    seen: list[tuple[int, int]] = []
    on_two = _grid(candles, sweeps.DaskPool(two[1]), progress=lambda d, t: seen.append((d, t)))
    assert on_two == here
    # Progress comes per task as it completes, ends at every point.
    assert seen[-1] == (len(here["rows"]), len(here["rows"])) and len(seen) > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_grid_values_equal_a_plain_loop(candles) -> None:
    cfg = EngineConfig()
    out = _grid(candles, sweeps.InProcess())
    close, times = candles["close"].tolist(), candles["time"].tolist()
    assert out["skipped"] == 2  # (5, 5), (8, 5)
    assert [(r["params"]["fast"], r["params"]["slow"]) for r in out["rows"]] == [
        (f, s) for f in RANGES["fast"] for s in RANGES["slow"] if f < s
    ]
    for row in out["rows"]:
        want = plain_row(close, times, row["params"]["fast"], row["params"]["slow"], cfg)
        got = row["metrics"]
        assert (got["trades"], got["wins"], got["losses"]) == (want["trades"], want["wins"], want["losses"])
        assert got["net_profit"] == pytest.approx(want["net_profit"], abs=1e-9)
        assert got["max_drawdown"] == pytest.approx(want["max_drawdown"], abs=1e-9)
    assert sum(r["metrics"]["trades"] for r in out["rows"]) > 500


CONFIGS = [
    EngineConfig(),
    EngineConfig(expiry=3),
    EngineConfig(expiry=2, overlap=True, payout=0.8),
    EngineConfig(fraction=0.02, min_confidence=0.5),
    # The broker's payout changing twice during the data: each contract is paid the one in force.
    EngineConfig(
        history=PayoutHistory.of(
            [(1_781_431_200 + 60 * 900, 85.0, True), (1_781_431_200 + 60 * 2000, 70.0, True)]
        )
    ),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["plain", "expiry3", "overlap", "fraction", "history"])
@pytest.mark.parametrize(
    ("name", "points"),
    [
        ("sma_cross", [{"fast": f, "slow": s} for f, s in [(1, 2), (2, 9), (3, 10), (7, 30)]]),
        (
            "rsi_reversal",
            [{"period": p, "oversold": o, "overbought": 70.0} for p in (3, 14) for o in (20.0, 35.5)],
        ),
        ("macd_cross", [{}]),
    ],
)
def test_each_point_equals_a_single_engine_run(candles, cfg, name, points) -> None:
    strategy = get_strategy(name)
    resolved = [strategy.resolve(p) for p in points]
    data = prepare(candles, strategy, resolved, cfg.expiry)
    scores = sweeps_core.score_points(data, strategy, resolved, cfg, 60, "longest_losing_streak")
    for params, score in zip(resolved, scores, strict=True):
        sig = strategy.signals(candles, **params)
        assert np.array_equal(signals_of(data, strategy, params).direction, sig.direction)
        trades = engine.run(
            candles["time"].to_numpy(), candles["close"].to_numpy(), sig.direction, sig.confidence, cfg, 60
        )
        m = metrics.compute(trades, cfg)
        assert score == {k: m[k] for k in score}  # the same floats, not approximately
        assert score["trades"] > 0


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
def test_points_with_missing_closes_equal_a_single_engine_run(candles) -> None:
    # Missing closes in the middle: averages over them are NaN long after the warm-up.
    holed = candles.copy()
    holed.loc[[700, 701, 1900], "close"] = np.nan
    strategy, cfg = get_strategy("sma_cross"), EngineConfig()
    points = [strategy.resolve({"fast": f, "slow": s}) for f, s in [(1, 2), (3, 10), (7, 30)]]
    data = prepare(holed, strategy, points, cfg.expiry, timeframe=60)
    scores = sweeps_core.score_points(data, strategy, points, cfg, 60, "net_profit")
    for params, score in zip(points, scores, strict=True):
        sig = strategy.signals(holed, **params)
        assert np.array_equal(signals_of(data, strategy, params).direction, sig.direction)
        trades = engine.run(
            holed["time"].to_numpy(), holed["close"].to_numpy(), sig.direction, sig.confidence, cfg, 60
        )
        assert score == {k: metrics.compute(trades, cfg)[k] for k in score}
        assert score["trades"] > 0


def test_a_sweep_of_shared_indicators_runs_here_on_every_core_however_big(monkeypatch) -> None:
    monkeypatch.delenv("QF_DASK_SCHEDULER", raising=False)
    with sweeps.pool_for(10_000, 10_000_000, portable=True, light=True) as pool:
        assert isinstance(pool, sweeps.InProcess)
        assert pool.workers == (os.cpu_count() or 1)


class Stop(Exception):
    """What a cancelled job's progress callback raises."""


def test_a_sweep_stopped_by_its_progress_drops_the_batches_not_started() -> None:
    started: list[int] = []
    go = threading.Event()

    def batch(k: int) -> int:
        started.append(k)
        if k:  # every batch but the first waits until the sweep was stopped
            assert go.wait(10)
        return k

    def progress(done: int, total: int) -> None:
        raise Stop()

    tasks = [sweeps.Task(batch, (k,), 1) for k in range(50)]
    with pytest.raises(Stop):
        sweeps.InProcess(threads=2).run(tasks, progress)
    go.set()
    # Batch 0 ended, the two threads each held one more; the other 47 never started.
    assert set(started) <= {0, 1, 2}


def test_walk_forward_is_the_same_on_dask_and_here(candles, two) -> None:
    args = (candles, get_strategy("sma_cross"), {}, RANGES, EngineConfig(), 60, 800, 400, "sharpe")
    here = analysis.walk_forward(*args, pool=sweeps.InProcess())
    assert len(here["windows"]) == 5  # starts 0, 400, …, 1600
    assert analysis.walk_forward(*args, pool=sweeps.DaskPool(two[1])) == here


def test_monte_carlo_is_the_same_on_dask_and_here(candles, two) -> None:
    cfg = EngineConfig(balance=50, stake=2)
    sig = get_strategy("sma_cross").signals(candles, fast=3, slow=13)
    trades = engine.run(
        candles["time"].to_numpy(), candles["close"].to_numpy(), sig.direction, sig.confidence, cfg
    )
    here = analysis.monte_carlo(trades, cfg, runs=500, seed=4, pool=sweeps.InProcess())
    assert analysis.monte_carlo(trades, cfg, runs=500, seed=4, pool=sweeps.DaskPool(two[1])) == here
    assert 0 < here["ruin_probability"] < 1
    # Shuffles split anywhere draw the numbers of one sequential run.
    ret = trades.pnl / trades.stake
    whole = sweeps_core.shuffle_paths(ret, 2.0, cfg, 4, 0, 500, 0.5)
    parts = [
        sweeps_core.shuffle_paths(ret, 2.0, cfg, 4, a, b - a, 0.5) for a, b in [(0, 7), (7, 300), (300, 500)]
    ]
    for key, values in whole.items():
        assert np.array_equal(np.concatenate([p[key] for p in parts]), values)


def test_the_configured_scheduler_runs_the_sweep(candles, two, monkeypatch) -> None:
    cluster, client = two
    monkeypatch.setenv("QF_DASK_SCHEDULER", cluster.scheduler_address)
    with get_task_stream(client) as stream:
        out = _grid(candles, None)
    ran = {t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in stream.data}
    assert any(str(k).startswith("score_points") for k in ran), ran
    assert out == _grid(candles, sweeps.InProcess())


def test_a_tiny_sweep_stays_in_this_process(candles, monkeypatch) -> None:
    # Nothing listens on port 9: a sweep of three points must not even try to connect.
    monkeypatch.setenv("QF_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    strategy = get_strategy("sma_cross")
    out = analysis.grid(candles, strategy, {}, {"fast": [2, 3, 4], "slow": [10]}, EngineConfig(), 60)
    assert len(out["rows"]) == 3
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(analysis.AnalysisError, match=r"Dask scheduler tcp://127\.0\.0\.1:9: cannot connect"),
    ):
        analysis.grid(candles, strategy, {}, {"fast": [2, 3, 4, 5], "slow": [10]}, EngineConfig(), 60)
