"""Orders and deals for the trader's tests."""

from __future__ import annotations

from typing import Any

from quantumflux.bus.trading import Order
from quantumflux.trader.deals import Deal

T0 = 1_800_000_000.0  # a whole minute, UTC


def order(rid: str, asset: str = "EURUSD_otc", amount: float = 1.0, **changes: Any) -> Order:
    fields: dict[str, Any] = {
        "request_id": rid,
        "asset": asset,
        "action": "call",
        "amount": amount,
        "expiry": 60,
        "mode": "demo",
        "state": "requested",
        "ts": T0,
    }
    fields.update(changes)
    return Order(**fields)


def deal(
    state: str, deal_id: str | None, asset: str = "EURUSD_otc", amount: float = 1.0, **changes: Any
) -> Deal:
    fields: dict[str, Any] = {
        "state": state,
        "id": deal_id,
        "asset": asset,
        "action": "call",
        "amount": amount,
    }
    fields.update(changes)
    return Deal(**fields)
