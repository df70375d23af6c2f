"""Results of a backtest from its trades (pure): the figures a binary-option trader checks.

Definitions (also in docs/strategies.md):

- ``win_rate`` = wins / (wins + losses); ties are refunded and left out. ``break_even`` =
  1 / (1 + payout): the win rate at which the strategy neither earns nor loses.
- ``net_profit`` = sum of P/L; ``roi`` = net profit / total staked; ``profit_factor`` = money won /
  money lost (None when nothing was lost); ``expectancy`` = net profit / trades.
- drawdown on the balance after each trade, from the highest balance so far (the start counts):
  ``max_drawdown`` in money, ``max_drawdown_pct`` its largest share of that peak, and
  ``max_drawdown_trades`` / ``max_drawdown_seconds`` the longest time below a peak (until a new
  high or the end), in trades and in seconds of expiry time.
- ``longest_losing_streak``: most losses in a row (ties neither break nor extend a streak).
- ``sharpe``: mean / sample standard deviation of per-trade returns (P/L ÷ stake: ``payout``, −1
  or 0), not annualised. None (undefined) with fewer than 2 trades or when the standard deviation
  is zero or only rounding noise: at most ``SHARPE_FLAT`` × max(|mean|, 1). Every trade winning
  gives returns that are all equal; dividing by a deviation of 1e-17 would report 1e15.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import EngineConfig, Trades

# A standard deviation of per-trade returns this small next to the returns (which are of the order
# of 1) is rounding noise, not risk: the Sharpe ratio is then undefined.
SHARPE_FLAT = 1e-9


def _clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def drawdown(
    balance: np.ndarray, start: float, times: np.ndarray | None = None, start_time: int = 0
) -> dict[str, Any]:
    """Largest drawdown of a balance series (after each trade) that began at ``start``.

    ``times`` are the times of the balances (the contracts' expiries) and ``start_time`` the time
    of the starting balance; the duration is the longest stretch spent below a previous peak:
    trades below it, and seconds from the peak to the last balance below it.
    """
    if len(balance) == 0:
        return {
            "max_drawdown": 0.0,
            "max_drawdown_pct": 0.0,
            "max_drawdown_trades": 0,
            "max_drawdown_seconds": 0,
        }
    eq = np.concatenate(([start], balance))
    peak = np.maximum.accumulate(eq)
    dd = peak - eq
    pct = np.divide(dd, peak, out=np.zeros_like(dd), where=peak > 0)
    at_high = dd <= 0
    # Position of the latest high at every point: a new high starts a new stretch.
    high_at = np.maximum.accumulate(np.where(at_high, np.arange(len(eq)), 0))
    length = np.arange(len(eq)) - high_at
    k = int(np.argmax(length))
    seconds = 0
    if times is not None and length[k] > 0:
        t = np.concatenate(([start_time], np.asarray(times, dtype=np.int64)))
        seconds = int(t[k] - t[high_at[k]])
    return {
        "max_drawdown": float(dd.max()),
        "max_drawdown_pct": float(pct.max() * 100.0),
        "max_drawdown_trades": int(length[k]),
        "max_drawdown_seconds": seconds,
    }


def longest_streak(outcome: np.ndarray, value: int = -1) -> int:
    """Most ``value`` outcomes in a row, ties (0) skipped."""
    o = outcome[outcome != 0]
    if len(o) == 0:
        return 0
    hit = (o == value).astype(np.int64)
    # Length of the current run at each position: reset where hit is 0.
    csum = np.cumsum(hit)
    reset = np.maximum.accumulate(np.where(hit == 0, csum, 0))
    return int((csum - reset).max())


def by_hour(trades: Trades) -> list[dict[str, Any]]:
    """Trades, wins, losses, ties, win rate and net P/L by the UTC hour of the entry."""
    hours = (trades.entry_time // 3600) % 24
    out = []
    for h in range(24):
        m = hours == h
        if not m.any():
            continue
        o = trades.outcome[m]
        w, lo = int((o > 0).sum()), int((o < 0).sum())
        out.append(
            {
                "hour": h,
                "trades": int(m.sum()),
                "wins": w,
                "losses": lo,
                "ties": int((o == 0).sum()),
                "win_rate": w / (w + lo) if w + lo else None,
                "net_profit": float(trades.pnl[m].sum()),
            }
        )
    return out


def sharpe(returns: np.ndarray) -> float | None:
    """Mean / sample standard deviation of per-trade returns; None where it is undefined.

    Undefined with fewer than 2 returns, or when the deviation is at most ``SHARPE_FLAT`` ×
    max(|mean|, 1): returns that differ only by rounding (every trade won, stakes a share of the
    balance) have no measurable spread, and their ratio would be a meaningless huge number.
    """
    if len(returns) < 2:
        return None
    mean = float(returns.mean())
    sd = float(returns.std(ddof=1))
    if not math.isfinite(sd) or sd <= SHARPE_FLAT * max(abs(mean), 1.0):
        return None
    return _clean(mean / sd)


def compute(trades: Trades, config: EngineConfig) -> dict[str, Any]:
    """Every metric of a run (see the module docstring); None where a figure is undefined."""
    n = len(trades)
    o = trades.outcome
    wins, losses = int((o > 0).sum()), int((o < 0).sum())
    ties = n - wins - losses
    pnl = trades.pnl
    won = float(pnl[pnl > 0].sum())
    lost = float(-pnl[pnl < 0].sum())
    net = float(pnl.sum())
    staked = float(trades.stake.sum())
    returns = pnl / trades.stake if n else np.empty(0)
    out_sharpe = sharpe(returns)
    out: dict[str, Any] = {
        "trades": n,
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": wins / (wins + losses) if wins + losses else None,
        "break_even": config.break_even,
        "net_profit": net,
        "roi": net / staked if staked else None,
        "profit_factor": won / lost if lost > 0 else None,
        "expectancy": net / n if n else None,
        "final_balance": float(trades.balance[-1]) if n else config.balance,
        "longest_losing_streak": longest_streak(o, -1),
        "longest_winning_streak": longest_streak(o, 1),
        "sharpe": out_sharpe,
        "skipped_gaps": trades.skipped_gaps,
    }
    t0 = int(trades.entry_time[0]) if n else 0
    out.update(drawdown(trades.balance, config.balance, trades.expiry_time, t0))
    out["by_hour"] = by_hour(trades)
    return out
