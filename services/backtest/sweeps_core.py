"""The work of one sweep task (pure): score a batch of grid points, walk-forward windows, shuffles.

Every task takes plain values and returns plain values, so it runs the same in this process or on
any Dask worker, and a point's figures never depend on which batch it landed in.

A grid point is settled with the engine's own rules and arithmetic (``engine.select_entries``
or ``engine.choose``, then ``engine.pay`` as in ``engine.run``) and scored with the formulas
of ``metrics.compute``, leaving out what a grid row never shows (the per-hour table, drawdown
durations): the figures equal a plain ``engine.run`` + ``metrics.compute`` of the point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import engine, metrics
from .grid_kernels import Dataset, Turns, point_signals
from .strategies import Strategy, get_strategy
from .strategies.base import Signals


@dataclass(frozen=True)
class Contracts:
    """The columns of a run's contracts that its headline figures need.

    ``paid`` is the profit of every win and of every loss when they are all the same (a fixed
    stake and one payout for all), None otherwise.
    """

    outcome: np.ndarray
    stake: np.ndarray
    pnl: np.ndarray
    balance: np.ndarray
    skipped_gaps: int
    paid: tuple[float, float] | None = None


def settle(
    data: Dataset,
    sig: Signals | Turns,
    config: engine.EngineConfig,
    timeframe: int | None,
    start: int = 0,
    stop: int | None = None,
) -> Contracts:
    """The contracts of one signal series: ``engine.run``'s rules, on the precomputed moves.

    Entries and payments come from the engine itself (``select_entries`` or, for sparse signals,
    ``choose``; then ``pay``); only the price move is taken from the dataset, computed once for
    every grid point.
    """
    if isinstance(sig, Turns):
        entry, d, skipped = _entries(data, sig, config, timeframe, start, stop)
    else:
        entry, skipped = engine.select_entries(
            sig.direction, sig.confidence, config, data.times, timeframe, start, stop
        )
        d = sig.direction[entry].astype(np.int8)
    outcome = (data.move[entry] * d).astype(np.int8, copy=False)
    if config.history is not None:
        payout, _ = config.payouts_at(data.times[entry])
        return Contracts(outcome, *engine.pay(outcome, payout, config), skipped)
    # Without a history every contract has the fixed payout (as payouts_at gives them).
    stake, pnl, balance = engine.pay(outcome, float(config.payout), config)
    paid = None
    if config.fraction is None:
        # engine.pay's products: the stake times the return of a win, of a loss.
        paid = (float(config.stake) * float(config.payout), float(config.stake) * -1.0)
    return Contracts(outcome, stake, pnl, balance, skipped, paid)


def _entries(
    data: Dataset,
    turns: Turns,
    config: engine.EngineConfig,
    timeframe: int | None,
    start: int,
    stop: int | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """``select_entries`` on sparse signals: the entries, their directions and the gap count."""
    last = engine.signals_end(len(data.close), config, stop)
    a, b = np.searchsorted(turns.index, (start, last))
    # Every sparse signal has confidence 1, which passes any min_confidence (at most 1).
    cand = turns.index[a:b]
    if timeframe and timeframe == data.timeframe:
        void = _among(cand, data.gaps)
    else:
        void = engine.voided(cand, config, data.times, timeframe)
    taken, skipped = engine.choose(cand, config, void)
    return cand[taken], turns.direction[a:b][taken], skipped


def _among(cand: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Positions in ``cand`` of the candles that are also in ``gaps`` (both increasing)."""
    pos: np.ndarray = np.searchsorted(cand, gaps)
    inside = pos < len(cand)
    pos = pos[inside]
    found: np.ndarray = pos[cand[pos] == gaps[inside]]
    return found


def headline(c: Contracts, config: engine.EngineConfig, streaks: bool = True) -> dict[str, Any]:
    """The figures of ``metrics.compute`` a sweep shows and ranks by, computed the same way."""
    n = len(c.outcome)
    wins, losses = int(np.count_nonzero(c.outcome > 0)), int(np.count_nonzero(c.outcome < 0))
    pnl = c.pnl
    won, lost = _won_lost(c, wins, losses)
    net = float(pnl.sum())
    staked = float(c.stake.sum())
    dd = drawdown(c.balance, config.balance)
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
        "max_drawdown": dd[0],
        "max_drawdown_pct": dd[1],
        "sharpe": metrics.sharpe(pnl / c.stake if n else np.empty(0)),
    }
    if streaks:
        out["longest_losing_streak"] = metrics.longest_streak(c.outcome, -1)
    return out


def _won_lost(c: Contracts, wins: int, losses: int) -> tuple[float, float]:
    """Money won and money lost, as ``metrics.compute`` sums them."""
    if c.paid is None or not c.paid[0] > 0:
        return float(c.pnl[c.pnl > 0].sum()), float(-c.pnl[c.pnl < 0].sum())
    # The profits above 0 are the wins, all the same number: the very array compute() sums.
    return float(np.full(wins, c.paid[0]).sum()), float(-np.full(losses, c.paid[1]).sum())


def drawdown(balance: np.ndarray, start: float) -> tuple[float, float]:
    """``max_drawdown`` and ``max_drawdown_pct`` of ``metrics.drawdown``, the same arithmetic.

    The balance starts above 0, so every peak is above 0 and no division needs a guard.
    """
    if len(balance) == 0:
        return 0.0, 0.0
    peak = np.maximum.accumulate(balance)
    np.maximum(peak, start, out=peak)
    dd = peak - balance
    worst = max(float(dd.max()), 0.0)
    return worst, max(float((dd / peak).max() * 100.0), 0.0)


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
        headline(settle(data, point_signals(data, strategy, p), config, timeframe), config, streaks)
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
        sig = point_signals(data, strategy, p)
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
