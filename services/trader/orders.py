"""The order book: every order's state, moved by the broker's answers (pure).

An order is ``requested`` from the moment its requestId is chosen: the shell stores that record
*before* it sends the frame, so a crash in between leaves a trace. Then, by what the page reports:

- ``open``: ``successopenOrder``, matched by requestId where the deal carries one, else by the
  oldest requested order of the same asset, amount and direction;
- ``rejected``: ``failopenOrder``, which carries no requestId: the oldest requested order of that
  asset and amount (as the broker answers in order), or the frame could not be sent;
- ``closed``: ``successcloseOrder`` or ``updateClosedDeals``, matched by deal id;
- ``unknown``: no answer within the time-out, or an open order whose close was never seen. Its
  fate is reported, never guessed: nothing is sent again. A later deal naming it by requestId or
  deal id still settles it.

Every change returns the new :class:`~quantumflux.bus.trading.Order` record, for ``qf:orders``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from quantumflux.bus.trading import Order
from quantumflux.risk.tally import Tally
from quantumflux.trader.deals import Deal

OPTION_TYPE = 100  # the broker's only kind of option (protocol notes §6)
# Amounts are in cents; two amounts closer than this are the same.
CENT = 0.005
PENDING = ("requested",)
LIVE = ("requested", "open")
FINAL = ("rejected", "closed")


def new_request_id(draw: Callable[[int], int] = secrets.randbelow) -> str:
    """A requestId shaped like the page's own (a number), unlikely to repeat."""
    return str(10**11 + draw(9 * 10**11))


def order_frame(order: Order) -> str:
    """The ``openOrder`` text frame the page itself sends for this order."""
    rid: int | str = int(order.request_id) if order.request_id.isdigit() else order.request_id
    body = {
        "asset": order.asset,
        "amount": order.amount,
        "action": order.action,
        "isDemo": 1 if order.mode == "demo" else 0,
        "requestId": rid,
        "optionType": OPTION_TYPE,
        "time": order.expiry,
    }
    return "42" + json.dumps(["openOrder", body], separators=(",", ":"))


def _same_amount(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < CENT


@dataclass
class OrderBook:
    """The latest state of each order, by requestId, in the order they were requested."""

    timeout: float
    orders: dict[str, Order] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)

    # ------------------------------------------------------------------ views

    def in_state(self, *states: str) -> list[Order]:
        return [o for o in self.orders.values() if o.state in states]

    @property
    def live(self) -> list[Order]:
        """Orders requested or open: the ones that count against the open-orders limit."""
        return self.in_state(*LIVE)

    # ------------------------------------------------------------------ changes

    def _move(self, order: Order, now: float, state: str, **changes: Any) -> Order:
        moved = replace(order, state=state, ts=now, **changes)
        self.orders[order.request_id] = moved
        if state == "closed":
            self.tally.add_closed(moved.profit or 0.0, now)
        return moved

    def request(self, order: Order) -> Order:
        """A new order, about to be stored and sent."""
        if order.request_id in self.orders:
            raise ValueError(f"requestId {order.request_id} is already used")
        self.orders[order.request_id] = order
        self.tally.add_sent(order.ts)
        return order

    def send_failed(self, request_id: str, reason: str, now: float) -> list[Order]:
        """The frame could not be sent: the order is rejected, the broker never saw it."""
        order = self.orders.get(request_id)
        if order is None or order.state != "requested":
            return []
        return [self._move(order, now, "rejected", reason=reason)]

    def on_deal(self, deal: Deal, now: float) -> list[Order]:
        """One deal the broker just reported: opened, closed or refused."""
        if deal.state == "open":
            return self._opened(deal, now, fifo=True)
        if deal.state == "closed":
            return self._closed(deal, now)
        return self._refused(deal, now)

    def on_list(self, state: str, deals: Iterable[Deal], now: float) -> list[Order]:
        """A list of open or recently closed deals: only exact matches count (the user's own
        deals are in it too)."""
        out: list[Order] = []
        for deal in deals:
            out += self._opened(deal, now, fifo=False) if state == "open" else self._closed(deal, now)
        return out

    def expire(self, now: float) -> list[Order]:
        """Orders whose fate can no longer be known: no answer, or no close seen, in time."""
        out = []
        for order in self.in_state(*LIVE):
            if order.state == "requested" and now - order.ts >= self.timeout:
                reason = f"no answer from the broker within {self.timeout:g} s"
            elif order.state == "open" and now - order.ts >= order.expiry + self.timeout:
                reason = f"no close seen within {self.timeout:g} s of the expiry"
            else:
                continue
            out.append(self._move(order, now, "unknown", reason=reason))
        return out

    def restore(self, orders: Iterable[Order]) -> None:
        """Take back the orders kept on disk: every state change, oldest first."""
        records = list(orders)
        for order in records:
            self.orders[order.request_id] = order
        self.tally = Tally.of(records)

    def prune(self, before: float) -> None:
        """Forget the orders that ended before ``before`` (their results stay in the tally)."""
        for rid in [rid for rid, o in self.orders.items() if o.state in FINAL and o.ts < before]:
            del self.orders[rid]

    # ------------------------------------------------------------------ matching

    def _known_deal(self, deal_id: str | None) -> Order | None:
        if deal_id is None:
            return None
        return next((o for o in self.orders.values() if o.deal_id == deal_id), None)

    def _named(self, deal: Deal, *states: str) -> Order | None:
        order = self.orders.get(deal.request_id) if deal.request_id else None
        return order if order is not None and order.state in states else None

    def _oldest(self, deal: Deal) -> Order | None:
        return next(
            (
                o
                for o in self.orders.values()
                if o.state == "requested"
                and o.asset == deal.asset
                and _same_amount(deal.amount, o.amount)
                and (deal.action is None or deal.action == o.action)
            ),
            None,
        )

    def _opened(self, deal: Deal, now: float, fifo: bool) -> list[Order]:
        known = self._known_deal(deal.id)
        if known is not None:
            if known.state == "unknown":  # it was open after all
                return [self._move(known, now, "open", reason=None)]
            return []
        order = self._named(deal, "requested", "unknown") or (self._oldest(deal) if fifo else None)
        if order is None:
            return []  # a deal of the user's own
        return [self._move(order, now, "open", deal_id=deal.id, open_price=deal.open_price, reason=None)]

    def _closed(self, deal: Deal, now: float) -> list[Order]:
        order = self._known_deal(deal.id)
        if order is None:
            order = self._named(deal, "requested", "unknown")
        if order is None or order.state == "closed":
            return []
        return [
            self._move(
                order,
                now,
                "closed",
                deal_id=deal.id,
                open_price=deal.open_price if deal.open_price is not None else order.open_price,
                close_price=deal.close_price,
                profit=deal.profit,
                reason=None,
            )
        ]

    def _refused(self, deal: Deal, now: float) -> list[Order]:
        order = self._oldest(deal)
        if order is None:
            return []
        return [self._move(order, now, "rejected", reason=deal.error or "refused by the broker")]
