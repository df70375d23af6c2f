"""The simulated broker's account: orders from the page become deals, settled at expiry (pure).

Nothing here reads a clock or touches the network: the caller says what time it is and what the
last quoted prices are. Bodies follow the broker's (protocol notes §6): ``successopenOrder`` is a
deal object, ``successcloseOrder`` is ``{profit, deals}``, ``updateOpenedDeals`` /
``updateClosedDeals`` are lists of deals, ``successupdateBalance`` is ``{isDemo, balance}``.

Rules, the backtest engine's: a call wins when the close price is higher than the open price, a
put when it is lower, an equal price refunds the stake (a tie). A win's ``profit`` is
``amount × payout``, a loss's is ``-amount``, a tie's 0. The stake leaves the balance at the
open; at the close the balance gets back the stake plus the profit (nothing on a loss), and
``successcloseOrder.profit`` is that sum, as in the notes' sample (1.92 for 1 USD won at 92 %).

Deal times are written in the broker's clock (the simulator's +7200 s, like its ticks): whole
seconds in ``openTimestamp`` with the milliseconds in ``openMs`` (so ``now`` should be a whole
millisecond); the deal closes on the whole second ``openTimestamp + time``, at the last price
quoted at or before it.
"""

from __future__ import annotations

import datetime
import math
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The broker's limits as public clients report them (protocol notes §6): 1–50 000, 5 s–12 h.
MIN_EXPIRY = 5
MAX_EXPIRY = 43_200
MIN_AMOUNT = 1.0
MAX_AMOUNT = 50_000.0
MAX_CLOSED_LISTED = 50
# The demo account's user id as the broker would send it; the decoder must drop it.
SIM_UID = 1

Events = list[tuple[str, Any]]


@dataclass(slots=True)
class SimDeal:
    """One order the page placed; ``open_ts`` and ``close_ts`` are UTC."""

    id: str
    asset: str
    command: int  # 0 call, 1 put
    amount: float
    payout: int  # percent
    open_ts: float
    close_ts: float
    open_price: float
    request_id: Any
    owner: Any = field(default=None, repr=False, compare=False)
    close_price: float | None = None
    profit: float | None = None


def outcome(command: int, open_price: float, close_price: float) -> int:
    """+1 win, -1 loss, 0 tie: a call wins when the close is higher, a put when it is lower."""
    if close_price == open_price:
        return 0
    up = close_price > open_price
    return 1 if up == (command == 0) else -1


def refusal(
    *, quoted: bool, action: Any, amount: Any, expiry: Any, balance: float, is_open: bool = True
) -> str | None:
    """Why the broker refuses an order, in its own words; None when it takes it."""
    if not quoted:
        return "This asset is not available."
    if not is_open:
        return "This asset is closed now."
    if action not in ("call", "put"):
        return "Choose call or put."
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount):
        return "The amount is not a number."
    if amount < MIN_AMOUNT:
        return f"The minimum amount is {MIN_AMOUNT:g}."
    if amount > MAX_AMOUNT:
        return f"The maximum amount is {MAX_AMOUNT:g}."
    if amount > balance:
        return "Not enough money"
    if isinstance(expiry, bool) or not isinstance(expiry, int) or not MIN_EXPIRY <= expiry <= MAX_EXPIRY:
        return "expiration"
    return None


class SimAccount:
    """The account (demo unless ``is_demo`` is False): its balance, its open deals and the last closed ones."""

    def __init__(
        self, *, balance: float = 10000.0, broker_offset: int = 7200, seed: int = 1, is_demo: bool = True
    ) -> None:
        self.balance = balance
        self.is_demo = 1 if is_demo else 0
        self.broker_offset = broker_offset
        # Deal ids from their own generator, so orders never change the seeded ticks.
        self._ids = random.Random(f"{seed}:deals")
        self.open: list[SimDeal] = []
        self.closed: deque[SimDeal] = deque(maxlen=MAX_CLOSED_LISTED)
        # Deals settled since the caller last took them (for the truth file).
        self.just_closed: list[SimDeal] = []

    def balance_body(self) -> dict[str, Any]:
        """The ``successupdateBalance`` body."""
        return {"isDemo": self.is_demo, "balance": self.balance}

    def place(
        self,
        body: Any,
        *,
        now: float,
        quote: Callable[[str], float | None],
        payout: Callable[[str], int | None],
        owner: Any = None,
        is_open: Callable[[str], bool] = lambda _asset: True,
    ) -> Events:
        """An ``openOrder`` from the page → the events to answer with.

        ``quote(asset)`` is the last price quoted for an asset (None: none yet, or unknown asset);
        ``payout(asset)`` its payout in percent; ``is_open(asset)`` whether it can be traded now.
        A refused order gets ``failopenOrder``.
        """
        if not isinstance(body, dict):
            return [("failopenOrder", {"error": "The order could not be read.", "isDemo": self.is_demo})]
        asset = body.get("asset")
        amount = body.get("amount")
        action = body.get("action")
        expiry = body.get("time")
        request_id = body.get("requestId")
        fail = {"amount": amount, "asset": asset, "isDemo": self.is_demo, "requestId": request_id}
        price = quote(asset) if isinstance(asset, str) else None
        pct = payout(asset) if isinstance(asset, str) else None
        error = refusal(
            quoted=price is not None and pct is not None,
            action=action,
            amount=amount,
            expiry=expiry,
            balance=self.balance,
            is_open=is_open(asset) if isinstance(asset, str) else True,
        )
        if error is not None:
            return [("failopenOrder", {"error": error, **fail})]
        assert isinstance(asset, str) and price is not None and pct is not None
        assert isinstance(amount, int | float) and isinstance(expiry, int)
        open_second, _ = _split_ms(now + self.broker_offset)
        deal = SimDeal(
            id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            asset=asset,
            command=0 if action == "call" else 1,
            amount=float(amount),
            payout=pct,
            open_ts=now,
            close_ts=float(open_second + expiry - self.broker_offset),
            open_price=price,
            request_id=request_id,
            owner=owner,
        )
        self.open.append(deal)
        self.balance = round(self.balance - deal.amount, 2)
        return [
            ("successopenOrder", self.deal_body(deal)),
            ("updateOpenedDeals", [self.deal_body(d) for d in self.open]),
            ("successupdateBalance", self.balance_body()),
        ]

    def next_close(self) -> float | None:
        """When the next open deal expires (UTC), if any."""
        return min((d.close_ts for d in self.open), default=None)

    def settle(self, upto: float, quote: Callable[[str], float | None]) -> list[tuple[Any, Events]]:
        """Close every deal expiring at or before ``upto`` at ``quote(asset)``, the last price then.

        Returns, per deal in the order they expire, its owner and the events to send it.
        """
        due = sorted((d for d in self.open if d.close_ts <= upto), key=lambda d: (d.close_ts, d.open_ts))
        out: list[tuple[Any, Events]] = []
        for deal in due:
            close_price = quote(deal.asset)
            if close_price is None:  # cannot happen once a price was quoted; keep the deal open
                continue
            self.open.remove(deal)
            result = outcome(deal.command, deal.open_price, close_price)
            deal.close_price = close_price
            deal.profit = (
                round(deal.amount * deal.payout / 100, 2)
                if result > 0
                else -deal.amount
                if result < 0
                else 0.0
            )
            paid = round(deal.amount + deal.profit, 2) if result >= 0 else 0.0
            self.balance = round(self.balance + paid, 2)
            self.closed.appendleft(deal)
            self.just_closed.append(deal)
            body = self.deal_body(deal)
            out.append(
                (
                    deal.owner,
                    [
                        ("successcloseOrder", {"profit": paid, "deals": [body]}),
                        ("updateOpenedDeals", [self.deal_body(d) for d in self.open]),
                        ("updateClosedDeals", [self.deal_body(d) for d in self.closed]),
                        ("successupdateBalance", self.balance_body()),
                    ],
                )
            )
        return out

    def truth_row(self, deal: SimDeal) -> dict[str, Any]:
        """A settled deal as the simulator's truth file keeps it (UTC), to check traders against."""
        return {
            "id": deal.id,
            "request_id": deal.request_id,
            "asset": deal.asset,
            "action": "call" if deal.command == 0 else "put",
            "amount": deal.amount,
            "payout": deal.payout,
            "open_ts": deal.open_ts,
            "close_ts": deal.close_ts,
            "open_price": deal.open_price,
            "close_price": deal.close_price,
            "profit": deal.profit,
            "is_demo": self.is_demo,
            "balance": self.balance,
        }

    def deal_body(self, deal: SimDeal) -> dict[str, Any]:
        """A deal object with the broker's fields (the notes' U3 sample), in the broker's clock."""
        open_second, open_ms = _split_ms(deal.open_ts + self.broker_offset)
        close_second = round(deal.close_ts + self.broker_offset)
        closed = deal.close_price is not None
        body: dict[str, Any] = {
            "id": deal.id,
            "openTime": _text(open_second),
            "closeTime": _text(close_second),
            "openTimestamp": open_second,
            "closeTimestamp": close_second,
            "uid": SIM_UID,
            "isDemo": self.is_demo,
            "amount": deal.amount,
            # while open: the profit a win would make; once closed: the result
            "profit": deal.profit if closed else round(deal.amount * deal.payout / 100, 2),
            "percentProfit": deal.payout,
            "percentLoss": 100,
            "openPrice": deal.open_price,
            "copyTicket": "",
            "closePrice": deal.close_price if closed else 0,
            "command": deal.command,
            "asset": deal.asset,
            "openMs": open_ms,
            "optionType": 100,
            "currency": "USD",
        }
        if closed:
            body["closeMs"] = 0
            body["amountUSD"] = deal.amount
        else:
            body["requestId"] = deal.request_id
            body["isCopySignal"] = False
        return body


def _split_ms(t: float) -> tuple[int, int]:
    """Epoch seconds → (whole seconds, milliseconds), rounded to the millisecond."""
    ms = round(t * 1000)
    return ms // 1000, ms % 1000


def _text(second: int) -> str:
    return datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
