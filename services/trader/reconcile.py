"""After a restart: what became of the orders that were in flight (pure).

The orders kept on disk as ``requested`` or ``open`` are compared with what the page reports
once it is back (its lists of open and recently closed deals, and any answer seen since). Each
is decided ``open``, ``closed``, ``rejected`` or ``unknown``, never "send it again": an order
that was sent and lost can have been placed, and sending it twice risks twice the money.

A requested order is found by its requestId where the deal carries one; otherwise by the first
deal of the same asset, amount and direction opened between just before the request and the
time-out after it, that no other order claims. A requested order not found and younger than
the time-out is left *waiting*: nothing new is placed until it is settled or its time runs out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from quantumflux.bus.trading import Order
from quantumflux.trader.deals import Deal
from quantumflux.trader.orders import CENT

# The page's deal times and ours may differ by this much (clocks, rounding to the second).
CLOCK_SLACK = 2.0


@dataclass(frozen=True, slots=True)
class PageDeals:
    """What the page reported since the restart, by kind."""

    opened: tuple[Deal, ...] = ()  # updateOpenedDeals, successopenOrder
    closed: tuple[Deal, ...] = ()  # updateClosedDeals, successcloseOrder
    failed: tuple[Deal, ...] = ()  # failopenOrder

    @classmethod
    def of(cls, deals: Iterable[Deal]) -> PageDeals:
        """Deals of any state, sorted into the three kinds."""
        rows = list(deals)
        return cls(
            opened=tuple(d for d in rows if d.state == "open"),
            closed=tuple(d for d in rows if d.state == "closed"),
            failed=tuple(d for d in rows if d.state == "failed"),
        )


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The records to publish (each order's new state, in order) and the orders still waiting."""

    changes: list[Order]
    waiting: list[Order]

    @property
    def done(self) -> bool:
        """True once every order in flight is decided: new orders may be placed."""
        return not self.waiting


def reconcile(orders: Sequence[Order], page: PageDeals, now: float, timeout: float) -> Reconciliation:
    """Decide each order in flight (the latest record of each, oldest request first)."""
    claimed = _Claims({o.deal_id for o in orders if o.deal_id is not None})
    changes: list[Order] = []
    waiting: list[Order] = []
    for order in orders:
        if order.state == "open":
            changes += _open_order(order, page, now)
        elif order.state == "requested":
            decided = _requested_order(order, page, now, timeout, claimed)
            if decided is None:
                waiting.append(order)
            changes += decided or []
    return Reconciliation(changes, waiting)


@dataclass
class _Claims:
    """Deals already taken by an order (by id) and refusals already matched (by position)."""

    deals: set[str]
    refusals: set[int] = field(default_factory=set)


def _by_id(deals: Iterable[Deal], deal_id: str | None) -> Deal | None:
    return next((d for d in deals if deal_id is not None and d.id == deal_id), None)


def _closed(order: Order, deal: Deal, now: float, **extra: Any) -> Order:
    return replace(
        order,
        state="closed",
        ts=now,
        deal_id=deal.id,
        open_price=deal.open_price if deal.open_price is not None else order.open_price,
        close_price=deal.close_price,
        profit=deal.profit,
        **extra,
    )


def _open_order(order: Order, page: PageDeals, now: float) -> list[Order]:
    closed = _by_id(page.closed, order.deal_id)
    if closed is not None:
        return [_closed(order, closed, now)]
    if _by_id(page.opened, order.deal_id) is not None:
        return []
    return [
        replace(order, state="unknown", ts=now, reason="not among the page's open or recently closed deals")
    ]


def _requested_order(
    order: Order, page: PageDeals, now: float, timeout: float, claimed: _Claims
) -> list[Order] | None:
    deal = _named(order, page) or _likely(order, page, timeout, claimed)
    if deal is not None:
        if deal.id is not None:
            claimed.deals.add(deal.id)
        opened = replace(order, state="open", ts=now, deal_id=deal.id, open_price=deal.open_price)
        # The page may have reported the open and, later, the close of the same deal.
        closed = deal if deal.state == "closed" else _by_id(page.closed, deal.id)
        return [opened] if closed is None else [opened, _closed(opened, closed, now)]
    # failopenOrder names no requestId: the oldest refusal of this asset and amount not yet taken.
    refusal = next(
        (i for i, d in enumerate(page.failed) if _fits(order, d) and i not in claimed.refusals), None
    )
    if refusal is not None:
        claimed.refusals.add(refusal)
        reason = page.failed[refusal].error or "refused by the broker"
        return [replace(order, state="rejected", ts=now, reason=reason)]
    if now - order.ts < timeout:
        return None
    reason = f"not seen open, closed or refused within {timeout:g} s; not sent again"
    return [replace(order, state="unknown", ts=now, reason=reason)]


def _named(order: Order, page: PageDeals) -> Deal | None:
    return next((d for d in (*page.closed, *page.opened) if d.request_id == order.request_id), None)


def _fits(order: Order, deal: Deal) -> bool:
    return (
        deal.asset == order.asset
        and deal.amount is not None
        and abs(deal.amount - order.amount) < CENT
        and (deal.action is None or deal.action == order.action)
    )


def _likely(order: Order, page: PageDeals, timeout: float, claimed: _Claims) -> Deal | None:
    """The first unclaimed deal without a requestId that fits the order and opened in its window."""
    fitting = [
        d
        for d in (*page.opened, *page.closed)
        if d.request_id is None
        and d.id is not None
        and d.id not in claimed.deals
        and d.open_time is not None
        and order.ts - CLOCK_SLACK <= d.open_time <= order.ts + timeout
        and _fits(order, d)
    ]
    return min(fitting, key=lambda d: d.open_time or 0.0, default=None)
