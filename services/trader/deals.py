"""The broker's deals as the page reports them, read from ingest's ``deal`` and ``deals`` events (pure).

Ingest publishes ``deal`` for ``successopenOrder`` (state ``open``), ``successcloseOrder``
(``closed``) and ``failopenOrder`` (``failed``), and ``deals`` for the lists
``updateOpenedDeals`` / ``updateClosedDeals``. A deal carries the broker's ``requestId`` as
``request_id`` where the broker sent one; without it, matching falls back to the asset and amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEAL_STATES = ("open", "closed", "failed")


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal: ``action`` is ``call``/``put``, ``profit`` the result once closed."""

    state: str
    id: str | None
    asset: str | None
    action: str | None
    amount: float | None
    open_time: float | None = None
    open_price: float | None = None
    close_price: float | None = None
    profit: float | None = None
    is_demo: bool | None = None
    request_id: str | None = None
    error: str | None = None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def deal_of(data: Mapping[str, Any], state: str | None = None) -> Deal | None:
    """A :class:`Deal` from an event's deal map (None when its state is not one we know)."""
    state = state or data.get("state")
    if state not in DEAL_STATES:
        return None
    is_demo = data.get("is_demo")
    action = data.get("direction")
    return Deal(
        state=str(state),
        id=_text(data.get("id")),
        asset=_text(data.get("asset")),
        action=action if action in ("call", "put") else None,
        amount=_number(data.get("amount")),
        open_time=_number(data.get("open_time")),
        open_price=_number(data.get("open_price")),
        close_price=_number(data.get("close_price")),
        profit=_number(data.get("profit")),
        is_demo=is_demo if isinstance(is_demo, bool) else None,
        request_id=_text(data.get("request_id")),
        error=_text(data.get("error")),
    )


def deals_of(kind: str, data: Mapping[str, Any]) -> tuple[str, list[Deal]] | None:
    """``("one", [deal])`` for a ``deal`` event, ``("open"|"closed", deals)`` for a ``deals`` list.

    None for any other event, or a list of an unknown state.
    """
    if kind == "deal":
        deal = deal_of(data)
        return ("one", [deal]) if deal is not None else None
    if kind != "deals" or data.get("state") not in ("open", "closed"):
        return None
    state = str(data["state"])
    rows = data.get("deals")
    found = (
        [deal_of(row, state) for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []
    )
    return state, [d for d in found if d is not None]
