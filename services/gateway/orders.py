"""The trader's orders and its status as the browser gets them (pure: records in, maps out).

``qf:orders`` carries one entry per change of an order; the browser wants each order once, in
its newest state. :class:`OrderBook` keeps that for the newest orders, and :func:`trading_view`
keeps of the trader's status what the Trading panel shows.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from quantumflux.bus.trading import ORDER_STATES, Order

KEEP_ORDERS = 1000
# What an order's expiry is counted from: when the broker opened it, else when it was asked for.
_STARTED = ("open", "closed", "unknown")


def order_payload(o: Order, opened_at: float | None = None) -> dict[str, Any]:
    """The ``order_update`` event of one order change (``opened_at``: when it was first seen)."""
    start = opened_at if opened_at is not None else o.ts
    return {
        "request_id": o.request_id,
        "asset": o.asset,
        "action": o.action,
        "amount": o.amount,
        "expiry": o.expiry,
        "mode": o.mode,
        "state": o.state,
        "deal_id": o.deal_id,
        "open_price": o.open_price,
        "close_price": o.close_price,
        "profit": o.profit,
        "reason": o.reason,
        "ts": o.ts,
        "signal": o.signal,
        "opened_at": start,
        "expires_at": start + o.expiry,
        "result": result_of(o),
    }


def result_of(o: Order) -> str | None:
    """``won``, ``lost`` or ``refund`` for a closed order with a profit; None before."""
    if o.state != "closed" or o.profit is None:
        return None
    return "won" if o.profit > 0 else "lost" if o.profit < 0 else "refund"


class OrderBook:
    """The newest state of each of the newest orders, by ``request_id``."""

    def __init__(self, keep: int = KEEP_ORDERS) -> None:
        self.keep = keep
        self._orders: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def take(self, o: Order) -> dict[str, Any]:
        """One change of an order; its payload for the browsers."""
        was = self._orders.pop(o.request_id, None)
        opened = was["opened_at"] if was is not None and was["state"] in _STARTED else None
        if opened is None and o.state in _STARTED:
            opened = o.ts
        payload = order_payload(o, opened)
        self._orders[o.request_id] = payload
        while len(self._orders) > self.keep:
            self._orders.popitem(last=False)
        return payload

    def listing(self, state: str | None = None, limit: int = KEEP_ORDERS) -> list[dict[str, Any]]:
        """The orders (all, or those now in ``state``), newest change last."""
        chosen = [o for o in self._orders.values() if state in (None, o["state"])]
        return sorted(chosen, key=lambda o: o["ts"])[-limit:]


def known_state(state: str | None) -> bool:
    """True for a state an order can be in (or no state asked for)."""
    return state is None or state in ORDER_STATES


# The parts of the trader's status the web app shows; the rest (refusal counts, …) stays in the CLI.
_SHOWN = ("mode", "real_money", "state", "reason", "stop_rule", "account", "limits", "results")


def trading_view(status: dict[str, Any] | None) -> dict[str, Any]:
    """What the Trading panel shows of the trader's status; ``running`` False when it publishes none."""
    if not status:
        return {"running": False, "mode": "off", "state": "off", "reason": "the trader is not running"}
    out: dict[str, Any] = {"running": True, **{k: status.get(k) for k in _SHOWN}}
    out["open_orders"] = [o.get("request_id") for o in status.get("open_orders") or [] if isinstance(o, dict)]
    out["unknown_orders"] = [
        o.get("request_id") for o in status.get("unknown_orders") or [] if isinstance(o, dict)
    ]
    out["ts"] = status.get("ts")
    return out


def same_view(a: dict[str, Any] | None, b: dict[str, Any]) -> bool:
    """True when two views differ only by their time (nothing to tell the browsers)."""
    if a is None:
        return False
    return {k: v for k, v in a.items() if k != "ts"} == {k: v for k, v in b.items() if k != "ts"}
