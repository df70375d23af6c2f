"""What the trader tells the trader's phone or chat: one short title and body per happening (pure).

Told: an order opened, closed, refused or of unknown fate; trading stopped (by hand or by a
limit); Chrome lost; the protocol drift report. Everything else stays in the logs and the status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quantumflux.bus.trading import Order

Notice = tuple[str, str]


def _money(value: float | None) -> str:
    return "?" if value is None else f"{value:+.2f}"


def order_notice(order: Order) -> Notice | None:
    """The notice of an order's change, or None for a change not worth a message."""
    what = f"{order.action} {order.asset} {order.amount:g} for {order.expiry} s ({order.mode})"
    if order.state == "open":
        return "Order opened", f"{what} opened at {order.open_price}"
    if order.state == "closed":
        result = "won" if (order.profit or 0) > 0 else "lost" if (order.profit or 0) < 0 else "refunded"
        return f"Order {result}", f"{what} closed at {order.close_price}: {_money(order.profit)}"
    if order.state == "rejected":
        return "Order refused", f"{what}: {order.reason}"
    if order.state == "unknown":
        return "Order of unknown fate", f"{what}: {order.reason}; it is not sent again"
    return None


def stop_notice(rule: str, message: str) -> Notice:
    """Trading stopped: by hand (the kill switch) or because a limit was reached."""
    if rule == "kill_switch":
        return "Trading stopped", f"{message}; open orders are followed to their close"
    return "Trading stopped: limit reached", f"{message} ({rule}); nothing new is placed until resumed"


def event_notice(data: Mapping[str, Any]) -> Notice | None:
    """An event on ``qf:events`` worth a message: Chrome lost, or the protocol drift report."""
    kind = data.get("type")
    if kind == "chrome_status" and data.get("state") == "disconnected":
        reason = data.get("reason")
        return "Chrome lost", f"the page cannot be reached ({reason or 'no reason given'}); trading paused"
    if kind == "report" and data.get("report") == "protocol":
        summary = data.get("summary") or data.get("message") or "the broker's messages changed shape"
        return "Protocol drift", str(summary)
    return None
