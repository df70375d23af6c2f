"""Signals, paper trades and the user's own deals as the browser gets them.

Pure: maps in, maps out. The relay reads ``{prefix}:signals``, ``{prefix}:paper`` and the
``deal``/``deals``/``balance`` events; these functions check and shape what it read, and
:class:`Account` keeps the user's deals and balance for ``GET /api/deals``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from services.bus.timeframes import TimeframeError, label, parse_timeframe

SIGNAL_KEYS = ("time", "confidence", "strategy", "params", "run", "price", "contract")
PAPER_KEYS = (
    "id",
    "book",
    "run",
    "strategy",
    "params",
    "asset",
    "confidence",
    "entry_time",
    "entry_price",
    "expiry_time",
    "stake",
    "payout",
    "balance",
    "trades",
    "wins",
    "losses",
    "ties",
    "voided",
    "total_pnl",
)
SETTLE_KEYS = ("expiry_price", "outcome", "pnl")
PAPER_KINDS = ("open", "settle", "void")
KEEP_DEALS = 500


class TradeShapeError(ValueError):
    """An entry that is not a signal, paper trade or deal the browser could use."""


def direction_word(value: Any) -> str:
    """``call`` for an up contract, ``put`` for a down one (from +1/-1 or the words)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("call", "up", "buy", "higher"):
            return "call"
        if word in ("put", "down", "sell", "lower"):
            return "put"
    elif isinstance(value, int | float) and not isinstance(value, bool) and value != 0:
        return "call" if value > 0 else "put"
    raise TradeShapeError(f"direction {value!r} is neither call nor put")


def _tf_seconds(value: Any) -> int:
    try:
        return parse_timeframe(value)
    except (TimeframeError, TypeError, ValueError):
        raise TradeShapeError(f"timeframe {value!r} cannot be read") from None


def _asset(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TradeShapeError("the asset is missing")
    return value


def signal_payload(entry: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """(asset, timeframe seconds, ``signal`` payload) of a ``{prefix}:signals`` map."""
    asset = _asset(entry.get("asset"))
    tf = _tf_seconds(entry.get("timeframe", entry.get("label")))
    if not _is_number(entry.get("time")):
        raise TradeShapeError("the signal has no time")
    out: dict[str, Any] = {"id": entry.get("id"), "asset": asset, "timeframe": label(tf)}
    out["direction"] = direction_word(entry.get("direction"))
    for key in SIGNAL_KEYS:
        out[key] = entry.get(key)
    return asset, tf, out


def paper_payload(entry: dict[str, Any]) -> dict[str, Any]:
    """The ``paper_trade`` payload of a ``{prefix}:paper`` map."""
    kind = entry.get("kind")
    if kind not in PAPER_KINDS:
        raise TradeShapeError(f"paper entry kind {kind!r} is not open, settle or void")
    _asset(entry.get("asset"))
    tf = _tf_seconds(entry.get("timeframe", entry.get("label")))
    out: dict[str, Any] = {"kind": kind}
    for key in PAPER_KEYS:
        out[key] = entry.get(key)
    out["timeframe"] = label(tf)
    out["direction"] = direction_word(entry.get("direction"))
    if kind == "settle":
        for key in SETTLE_KEYS:
            out[key] = entry.get(key)
    elif kind == "void":
        out["reason"] = entry.get("reason")
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
