"""The work of one sweep task (pure): score a batch of grid points, walk-forward windows, shuffles.

Every task takes plain values and returns plain values, so it runs the same in this process or on
any Dask worker, and a point's figures never depend on which batch it landed in.

A grid point is settled with the engine's own rules and arithmetic (``engine.select_entries``,
then ``engine.pay`` as in ``engine.run``) and scored with the formulas
of ``metrics.compute``, leaving out what a grid row never shows (the per-hour table, drawdown
durations): the figures equal a plain ``engine.run`` + ``metrics.compute`` of the point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import engine, metrics
from .grid_kernels import Dataset, signals_of
from .strategies import Strategy, get_strategy
from .strategies.base import Signals


@dataclass(frozen=True)
class Contracts:
    """The columns of a run's contracts that its headline figures need."""

    outcome: np.ndarray
    stake: np.ndarray
    pnl: np.ndarray
    balance: np.ndarray
    skipped_gaps: int


def settle(
    data: Dataset,
    sig: Signals,
    config: engine.EngineConfig,
    timeframe: int | None,
    start: int = 0,
    stop: int | None = None,
) -> Contracts:
    """The contracts of one signal series: ``engine.run``'s rules, on the precomputed moves.

    Entries and payments come from the engine itself (``select_entries``, ``pay``); only the
    price move is taken from the dataset, computed once for every grid point.
    """
    entry, skipped = engine.select_entries(
        sig.direction, sig.confidence, config, data.times, timeframe, start, stop
    )
    d = sig.direction[entry].astype(np.int8)
    outcome = (data.move[entry] * d).astype(np.int8)
    payout, _ = config.payouts_at(data.times[entry])
    stake, pnl, balance = engine.pay(outcome, payout, config)
    return Contracts(outcome, stake, pnl, balance, skipped)


def headline(c: Contracts, config: engine.EngineConfig, streaks: bool = True) -> dict[str, Any]:
    """The figures of ``metrics.compute`` a sweep shows and ranks by, computed the same way."""
    n = len(c.outcome)
    wins, losses = int((c.outcome > 0).sum()), int((c.outcome < 0).sum())
    pnl = c.pnl
    won = float(pnl[pnl > 0].sum())
    lost = float(-pnl[pnl < 0].sum())
    net = float(pnl.sum())
    staked = float(c.stake.sum())
    dd = metrics.drawdown(c.balance, config.balance)
    out = {
        "trades": n,
        "wins": wins,
        "losses": losses,
        "ties": n - wins - losses,
        "win_rate": wins / (wins + losses) if wins + losses else None,
        "net_profit": net,
        "roi": net / staked if staked else None,
        "profit_factor": won / lost if lost > 0 else None,
        "expectancy": net / n if n else None,
        "max_drawdown": dd["max_drawdown"],
        "max_drawdown_pct": dd["max_drawdown_pct"],
        "sharpe": metrics.sharpe(pnl / c.stake if n else np.empty(0)),
    }
    if streaks:
        out["longest_losing_streak"] = metrics.longest_streak(c.outcome, -1)
    return out


def score_points(
    data: Dataset,
    ref: Strategy | str,
    points: Sequence[Mapping[str, Any]],
    config: engine.EngineConfig,
    timeframe: int | None,
    metric: str,
) -> list[dict[str, Any]]:
    """The headline figures of each grid point, in the order given."""
    strategy = get_strategy(ref) if isinstance(ref, str) else ref
    streaks = metric == "longest_losing_streak"
    return [
        headline(settle(data, signals_of(data, strategy, p), config, timeframe), config, streaks)
        for p in points
    ]


def score_windows(
    data: Dataset,
    ref: Strategy | str,
    points: Sequence[Mapping[str, Any]],
    config: engine.EngineConfig,
    timeframe: int | None,
    metric: str,
    windows: Sequence[tuple[int, int]],
) -> list[list[Any]]:
    """For each point, its ``metric`` on each train window ``(start, stop)``; signals once a point."""
    strategy = get_strategy(ref) if isinstance(ref, str) else ref
    streaks = metric == "longest_losing_streak"
    out = []
    for p in points:
        sig = signals_of(data, strategy, p)
        out.append(
            [
                headline(settle(data, sig, config, timeframe, a, b), config, streaks)[metric]
                for a, b in windows
            ]
        )
    return out


# Random numbers drawn per block of shuffles: a few million keep the memory of one block small.
SHUFFLE_BLOCK = 2_000_000


def shuffle_paths(
    ret: np.ndarray,
    stake: float | None,
    config: engine.EngineConfig,
    seed: int,
    first: int,
    count: int,
    ruin: float,
) -> dict[str, np.ndarray]:
    """Shuffles ``first`` to ``first + count`` of a Monte Carlo run, each path's worst and last.

    Shuffle k orders the trades by the k-th row of uniform draws of ``default_rng(seed)``: the
    generator is advanced past the rows before ``first``, so any split of the shuffles into tasks
    draws exactly the numbers one sequential run would.
    """
    n = len(ret)
    rng = np.random.default_rng(seed)
    rng.bit_generator.advance(first * n)  # type: ignore[attr-defined]
    out = {
        "max_dd": np.zeros(count),
        "max_dd_pct": np.zeros(count),
        "final": np.full(count, float(config.balance)),
        "ruined": np.zeros(count, dtype=bool),
    }
    batch = max(1, SHUFFLE_BLOCK // max(n, 1))
    done = 0
    while done < count and n:
        k = min(batch, count - done)
        r = ret[np.argsort(rng.random((k, n)), axis=1)]
        eq: np.ndarray
        if config.fraction is None:
            eq = config.balance + np.cumsum(stake * r if stake is not None else r, axis=1)
        else:
            eq = config.balance * np.cumprod(1.0 + config.fraction * r, axis=1)
        eq = np.concatenate((np.full((k, 1), config.balance), eq), axis=1)
        peak = np.maximum.accumulate(eq, axis=1)
        dd = peak - eq
        part = slice(done, done + k)
        out["max_dd"][part] = dd.max(axis=1)
        out["max_dd_pct"][part] = (dd / peak).max(axis=1) * 100.0
        out["final"][part] = eq[:, -1]
        out["ruined"][part] = eq.min(axis=1) <= ruin * config.balance
        done += k
    return out
