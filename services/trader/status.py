"""The trader's status as plain values: what ``qf trade status``, the web app and ``qf:events`` show (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantumflux.trader.engine import Trader


def state_of(trader: Trader) -> tuple[str, str | None]:
    """``off``, ``stopped``, ``paused`` or ``trading``, and why when it is not trading."""
    if trader.rules.mode == "off":
        return "off", "trading is off (QF_TRADE)"
    if trader.stopped is not None:
        return "stopped", trader.stopped.message
    blocked = trader.blocker()
    if blocked is not None:
        return "paused", blocked.message
    return "trading", None


def limits_used(trader: Trader, now: float) -> dict[str, dict[str, Any]]:
    """Each limit with how much of it is used now."""
    limits = trader.rules.limits
    account = trader.account(now)
    return {
        "max_open": {"limit": limits.max_open, "used": account.open_orders},
        "daily_loss": {"limit": limits.daily_loss, "used": max(0.0, -account.today_pnl)},
        "max_per_hour": {"limit": limits.max_per_hour, "used": account.last_hour},
        "max_losses": {"limit": limits.max_losses, "used": account.losses_in_a_row},
    }


def snapshot(trader: Trader, now: float) -> dict[str, Any]:
    """Mode, state, limits and their use, open orders, results, refusals and stale signals."""
    state, reason = state_of(trader)
    return {
        "mode": trader.rules.mode,
        "real_money": trader.rules.real_money,
        "state": state,
        "reason": reason,
        "stop_rule": trader.stopped.rule if trader.stopped is not None else None,
        "account": {"is_demo": trader.is_demo, "balance": trader.balance},
        "rules": trader.rules.limits.to_map(),
        "limits": limits_used(trader, now),
        "open_orders": [o.to_map() for o in trader.book.live],
        "unknown_orders": [o.to_map() for o in trader.book.in_state("unknown")],
        "results": trader.book.tally.to_map(now),
        "stale_signals": trader.stale,
        "refused": dict(trader.refused),
        "reconciled": trader.reconciled,
        "ts": now,
    }
