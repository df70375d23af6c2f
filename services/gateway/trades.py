"""Signals, paper trades and the user's own deals as the browser gets them.

Pure: records in, maps out. The readers decode ``{prefix}:signals`` and ``{prefix}:paper`` into
the bus's :class:`Signal` and :class:`PaperContract`; these functions shape them for the
browser, and :class:`Account` keeps the user's deals and balance (from the
``deal``/``deals``/``balance`` events) for ``GET /api/deals``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from quantumflux.bus.records import PaperContract, Signal

KEEP_DEALS = 500


def direction_word(direction: int) -> str:
    """``call`` for an up contract (+1), ``put`` for a down one (-1)."""
    return "call" if direction > 0 else "put"


def signal_payload(s: Signal) -> dict[str, Any]:
    """The ``signal`` event of a strategy signal."""
    return {
        "id": s.id,
        "asset": s.asset,
        "timeframe": s.label,
        "direction": direction_word(s.direction),
        "time": s.time,
        "confidence": s.confidence,
        "strategy": s.strategy,
        "params": s.params,
        "run": s.run,
        "price": s.price,
        "contract": s.contract,
    }


def paper_payload(p: PaperContract) -> dict[str, Any]:
    """The ``paper_trade`` event of a paper contract opening, settling or voided."""
    out: dict[str, Any] = {
        "kind": p.kind,
        "id": p.id,
        "book": p.book,
        "run": p.run,
        "strategy": p.strategy,
        "params": p.params,
        "asset": p.asset,
        "confidence": p.confidence,
        "entry_time": p.entry_time,
        "entry_price": p.entry_price,
        "expiry_time": p.expiry_time,
        "stake": p.stake,
        "payout": p.payout,
        "balance": p.balance,
        "trades": p.trades,
        "wins": p.wins,
        "losses": p.losses,
        "ties": p.ties,
        "voided": p.voided,
        "total_pnl": p.total_pnl,
        "timeframe": p.label,
        "direction": direction_word(p.direction),
    }
    if p.kind == "settle":
        out.update(expiry_price=p.expiry_price, outcome=p.outcome, pnl=p.pnl)
    elif p.kind == "void":
        out["reason"] = p.reason
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


@dataclass
class Account:
    """The user's own deals (newest kept) and balance, from ``deal``/``deals``/``balance`` events."""

    balance: float | None = None
    is_demo: bool | None = None
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def take(self, kind: str, data: dict[str, Any]) -> bool:
        """Take one event's data; False when it carried nothing usable."""
        if kind == "balance":
            if not _is_number(data.get("balance")):
                return False
            self.balance = float(data["balance"])
            self.is_demo = bool(data.get("is_demo"))
            return True
        if kind == "deal":
            return self._upsert(data)
        if kind == "deals":
            rows = data.get("deals")
            if not isinstance(rows, list):
                return False
            for row in rows:
                if isinstance(row, dict):
                    self._upsert({**row, "state": row.get("state") or data.get("state")})
            return True
        return False

    def _upsert(self, deal: dict[str, Any]) -> bool:
        deal_id = deal.get("id")
        if deal_id is None:
            return deal.get("state") == "failed"  # failed orders have no id; relayed, not kept
        key = str(deal_id)
        self.deals[key] = {**self.deals.get(key, {}), **deal}
        if len(self.deals) > KEEP_DEALS:
            for old in sorted(self.deals, key=lambda k: _order(self.deals[k]))[
                : len(self.deals) - KEEP_DEALS
            ]:
                del self.deals[old]
        return True

    def profit(self) -> float:
        """Sum of the closed deals' profit."""
        return float(
            sum(
                d["profit"]
                for d in self.deals.values()
                if d.get("state") == "closed" and _is_number(d.get("profit"))
            )
        )

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /api/deals`` answers: balance, deals oldest first, and the closed deals' profit."""
        deals = sorted(self.deals.values(), key=_order)
        return {
            "balance": self.balance,
            "is_demo": self.is_demo,
            "deals": deals,
            "open": sum(1 for d in deals if d.get("state") == "open"),
            "closed": sum(1 for d in deals if d.get("state") == "closed"),
            "profit": self.profit(),
        }


def _order(deal: dict[str, Any]) -> tuple[float, str]:
    t = deal.get("open_time")
    return (float(t) if isinstance(t, int | float) and _is_number(t) else 0.0, str(deal.get("id")))
