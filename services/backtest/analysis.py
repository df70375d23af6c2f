"""Beyond one run (pure): strategies side by side, grid sweeps, walk-forward, Monte Carlo.

Signals are causal (the value at candle i uses candles 0..i), so a strategy's signals on the whole
series equal its signals on any prefix; walk-forward therefore computes each parameter set's signals
once and only restricts where contracts may open.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from . import engine, metrics, sweeps
from .strategies.base import Strategy, StrategyError

Progress = sweeps.Progress

# Metrics a sweep can rank by; the ones in LOWER_IS_BETTER are minimised.
RANK_METRICS = (
    "net_profit",
    "roi",
    "win_rate",
    "profit_factor",
    "expectancy",
    "sharpe",
    "trades",
    "max_drawdown",
    "max_drawdown_pct",
    "longest_losing_streak",
)
LOWER_IS_BETTER = {"max_drawdown", "max_drawdown_pct", "longest_losing_streak"}
SUMMARY = (
    "trades",
    "wins",
    "losses",
    "ties",
    "win_rate",
    "net_profit",
    "roi",
    "profit_factor",
    "expectancy",
    "max_drawdown",
    "sharpe",
)


class AnalysisError(ValueError):
    """A sweep or analysis request that cannot run; the message says why."""


def run_one(
    candles: pd.DataFrame,
    strategy: Strategy,
    params: Mapping[str, Any],
    config: engine.EngineConfig,
    timeframe: int | None,
) -> tuple[engine.Trades, dict[str, Any]]:
    """Signals, contracts and metrics of one strategy with one parameter set."""
    sig = strategy.signals(candles, **params)
    trades = engine.run(
        candles["time"].to_numpy(),
        candles["close"].to_numpy(),
        sig.direction,
        sig.confidence,
        config,
        timeframe,
    )
    return trades, metrics.compute(trades, config)


def summary(m: Mapping[str, Any]) -> dict[str, Any]:
    """The headline metrics of a run."""
    return {k: m.get(k) for k in SUMMARY}


def compare(
    candles: pd.DataFrame,
    runs: Sequence[tuple[Strategy, Mapping[str, Any]]],
    config: engine.EngineConfig,
    timeframe: int | None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Several strategies on the same candles and engine settings, side by side."""
    out = []
    for k, (strategy, params) in enumerate(runs):
        resolved = strategy.resolve(params)
        _, m = run_one(candles, strategy, resolved, config, timeframe)
        out.append({"strategy": strategy.name, "params": resolved, "metrics": summary(m)})
        if progress:
            progress(k + 1, len(runs))
    return out


def parse_range(name: str, spec: str) -> list[float]:
    """Values of a grid axis: ``start:stop:step`` (stop included) or ``a,b,c``."""
    try:
        if ":" in spec:
            parts = [float(x) for x in spec.split(":")]
            if len(parts) == 2:
                parts.append(1.0)
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise AnalysisError(f"grid {name}={spec}: use start:stop:step with step > 0 and stop ≥ start")
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = [round(start + i * step, 10) for i in range(count)]
        else:
            values = [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise AnalysisError(f"grid {name}={spec}: use start:stop:step or a,b,c") from None
    if not values:
        raise AnalysisError(f"grid {name}={spec}: no values")
    return [int(v) if float(v).is_integer() else v for v in values]


@contextmanager
def _sweeping() -> Iterator[None]:
    """A scheduler that cannot be reached, reported as a request that cannot run."""
    try:
        yield
    except sweeps.SchedulerError as exc:
        raise AnalysisError(str(exc)) from None


def _rank_key(metric: str) -> Callable[[dict[str, Any]], float]:
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0

    def key(row: dict[str, Any]) -> float:
        value = row["metrics"].get(metric)
        # A figure that is undefined (no trades, no losses for profit factor) ranks last.
        return -math.inf if value is None else sign * float(value)

    return key


def _combos(
    strategy: Strategy, base: Mapping[str, Any], ranges: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    known = {p.name for p in strategy.params}
    for name in ranges:
        if name not in known:
            raise AnalysisError(f"unknown parameter {name!r} for {strategy.name} (known: {', '.join(known)})")
    names = list(ranges)
    return [
        dict(base) | dict(zip(names, values, strict=True)) for values in itertools.product(*ranges.values())
    ]


def grid(
    candles: pd.DataFrame,
    strategy: Strategy,
    base: Mapping[str, Any],
    ranges: Mapping[str, Sequence[Any]],
    config: engine.EngineConfig,
    timeframe: int | None,
    metric: str = "net_profit",
    progress: Progress | None = None,
    pool: sweeps.Pool | None = None,
) -> dict[str, Any]:
    """Every combination of the parameter ranges: a results table, the best row, a heatmap for two axes.

    Combinations the strategy refuses (e.g. fast ≥ slow) are counted in ``skipped``. The points
    run as tasks of :mod:`.sweeps` (``pool``: where; by default chosen by the sweep's size).
    """
    if metric not in RANK_METRICS:
        raise AnalysisError(f"unknown metric {metric!r} (use one of: {', '.join(RANK_METRICS)})")
    combos = _combos(strategy, base, ranges)
    points = []
    for combo in combos:
        try:
            points.append(strategy.resolve(combo))
        except StrategyError:
            continue
    with _sweeping():
        scores = sweeps.grid_scores(candles, strategy, points, config, timeframe, metric, pool, progress)
    rows = [
        {"params": params, "metrics": summary(m) | {metric: m[metric]}}
        for params, m in zip(points, scores, strict=True)
    ]
    best = max(rows, key=_rank_key(metric)) if rows else None
    out: dict[str, Any] = {
        "metric": metric,
        "axes": list(ranges),
        "rows": rows,
        "best": best,
        "skipped": len(combos) - len(points),
    }
    if len(ranges) == 2:
        x, y = list(ranges)
        xs, ys = list(ranges[x]), list(ranges[y])
        values: list[list[float | None]] = [[None] * len(xs) for _ in ys]
        for row in rows:
            xi = xs.index(row["params"][x]) if row["params"][x] in xs else None
            yi = ys.index(row["params"][y]) if row["params"][y] in ys else None
            if xi is not None and yi is not None:
                values[yi][xi] = row["metrics"].get(metric)
        out["heatmap"] = {"x": x, "y": y, "xs": xs, "ys": ys, "values": values}
    return out


def walk_forward(
    candles: pd.DataFrame,
    strategy: Strategy,
    base: Mapping[str, Any],
    ranges: Mapping[str, Sequence[Any]],
    config: engine.EngineConfig,
    timeframe: int | None,
    train: int,
    test: int,
    metric: str = "net_profit",
    progress: Progress | None = None,
    pool: sweeps.Pool | None = None,
) -> dict[str, Any]:
    """Optimise on ``train`` candles, trade the next ``test`` with the best set; out-of-sample only.

    Windows step forward by ``test`` candles. The result holds each window (its best parameters and
    its out-of-sample metrics) and the metrics of all out-of-sample trades together.
    """
    n = len(candles)
    _check_windows(metric, train, test, n)
    combos = _valid_combos(strategy, base, ranges)
    times = candles["time"].to_numpy()
    close = candles["close"].to_numpy()
    starts = list(range(0, n - train - test + 1, test))
    spans = [(s, s + train) for s in starts]
    with _sweeping():
        scores = sweeps.window_scores(
            candles, strategy, combos, config, timeframe, metric, spans, pool, progress
        )
    windows = []
    oos: list[engine.Trades] = []
    chosen: dict[int, Any] = {}
    for w, s in enumerate(starts):
        best = _best_in_window(combos, [row[w] for row in scores], metric)
        if best["at"] not in chosen:
            chosen[best["at"]] = strategy.signals(candles, **best["params"])
        tr = _run(times, close, chosen[best["at"]], config, timeframe, s + train, s + train + test)
        oos.append(tr)
        windows.append(
            {
                "train_window": [int(times[s]), int(times[s + train - 1])],
                "test_window": [int(times[s + train]), int(times[min(s + train + test, n) - 1])],
                "params": best["params"],
                "train_metric": best["metrics"][metric],
                "test": summary(metrics.compute(tr, config)),
            }
        )
    joined = _join(oos, config)
    return {"metric": metric, "windows": windows, "out_of_sample": summary(metrics.compute(joined, config))}


def _best_in_window(combos: list[dict[str, Any]], values: list[Any], metric: str) -> dict[str, Any]:
    """The parameter set with the best train figure (the first of equal ones), and its position."""
    scored = [
        {"params": c, "metrics": {metric: v}, "at": k}
        for k, (c, v) in enumerate(zip(combos, values, strict=True))
    ]
    return max(scored, key=_rank_key(metric))


def _check_windows(metric: str, train: int, test: int, n: int) -> None:
    if metric not in RANK_METRICS:
        raise AnalysisError(f"unknown metric {metric!r} (use one of: {', '.join(RANK_METRICS)})")
    if train < 10 or test < 1:
        raise AnalysisError(
            "walk-forward needs a train window of 10 candles or more and a test window of 1 or more"
        )
    if train + test > n:
        raise AnalysisError(f"walk-forward needs {train + test} candles (train + test); the data has {n}")


def _valid_combos(
    strategy: Strategy, base: Mapping[str, Any], ranges: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Every parameter set of the grid the strategy accepts; :class:`AnalysisError` when none."""
    combos = []
    for combo in _combos(strategy, base, ranges or {}):
        try:
            combos.append(strategy.resolve(combo))
        except StrategyError:
            continue
    if not combos:
        raise AnalysisError("no parameter combination is valid for this strategy")
    return combos


def _run(
    times: np.ndarray,
    close: np.ndarray,
    sig: Any,
    config: engine.EngineConfig,
    tf: int | None,
    start: int,
    end: int,
) -> engine.Trades:
    """The trades of one signal set on candles ``start`` to ``end`` (exclusive)."""
    return engine.run(times, close, sig.direction, sig.confidence, config, tf, start, end)


def _join(parts: list[engine.Trades], config: engine.EngineConfig) -> engine.Trades:
    """Trades of consecutive windows as one run, with the balance carried across windows."""
    cols = {c: np.concatenate([getattr(p, c) for p in parts]) for c in engine.TRADE_COLUMNS}
    payout = np.concatenate([p.payout for p in parts])
    cols["stake"], cols["pnl"], cols["balance"] = engine.pay(cols["outcome"], payout, config)
    return engine.Trades(
        **cols,
        skipped_gaps=sum(p.skipped_gaps for p in parts),
        payout=payout,
        fixed_payouts=sum(p.fixed_payouts for p in parts),
    )


def monte_carlo(
    trades: engine.Trades,
    config: engine.EngineConfig,
    runs: int,
    seed: int = 0,
    ruin: float = 0.5,
    progress: Progress | None = None,
    pool: sweeps.Pool | None = None,
) -> dict[str, Any]:
    """Shuffle the order of the trades ``runs`` times: drawdown, final balance and ruin odds.

    A path is ruined when its balance falls to ``ruin`` × the starting balance or lower (0.5: half
    the money gone). Percentiles are 5, 25, 50, 75 and 95.
    """
    if runs < 1:
        raise AnalysisError("monte-carlo needs 1 run or more")
    if not 0 <= ruin < 1:
        raise AnalysisError("ruin must be at least 0 and below 1 (0.5 = half the balance lost)")
    n = len(trades)
    paths = {
        "max_dd": np.zeros(runs),
        "max_dd_pct": np.zeros(runs),
        "final": np.full(runs, float(config.balance)),
        "ruined": np.zeros(runs, dtype=bool),
    }
    if n:
        ret = np.divide(trades.pnl, trades.stake, out=np.zeros_like(trades.pnl), where=trades.stake > 0)
        stake = float(trades.stake[0]) if config.fraction is None else None
        with _sweeping():
            paths = sweeps.shuffles(ret, stake, config, runs, seed, ruin, pool, progress)
    max_dd, max_dd_pct, final, ruined = paths["max_dd"], paths["max_dd_pct"], paths["final"], paths["ruined"]
    pct = (5, 25, 50, 75, 95)

    def spread(values: np.ndarray) -> dict[str, float]:
        return {f"p{p}": float(v) for p, v in zip(pct, np.percentile(values, pct), strict=True)}

    return {
        "runs": runs,
        "trades": n,
        "seed": seed,
        "ruin_level": ruin,
        "ruin_probability": float(ruined.mean()) if n else 0.0,
        "max_drawdown": spread(max_dd),
        "max_drawdown_pct": spread(max_dd_pct),
        "final_balance": spread(final),
    }
