"""The decision for each signal, and the account and orders it rests on (pure: time is passed in).

For a signal, in this order: trading off → nothing; a signal that is not fresh (its candle
closed more than ``max_lateness`` seconds ago) → counted as stale and refused; stopped (the kill
switch, or a rule that stops trading) → refused; the page lost, on another account than the mode
asks for, or its account not yet known → refused, with the reason; orders of a previous run not
yet reconciled → refused; then the risk rules (:mod:`.risk`). What passes becomes a
``requested`` order and the ``openOrder`` frame: the shell stores the one, then sends the other.

Stopping never touches the orders already open: they are followed to their close.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from quantumflux.bus.trading import Order, Payout, Signal
from quantumflux.risk.rules import AccountState, Intent, Place, Refusal, RiskLimits, check, stop_rule
from quantumflux.trader.deals import deals_of
from quantumflux.trader.orders import OrderBook, new_request_id, order_frame
from quantumflux.trader.reconcile import PageDeals, reconcile
from quantumflux.trader.status import snapshot

# The broker's shortest and longest order, in seconds (protocol notes: 5 s to 12 h).
MIN_EXPIRY = 5
MAX_EXPIRY = 43_200
KILL_SWITCH = "kill_switch"


@dataclass(frozen=True, slots=True)
class TradeRules:
    """How the trader runs: the mode, whether real money was confirmed, the limits, the timing.

    ``expiry`` is counted in candles of the signal's timeframe, ``max_lateness`` and ``timeout``
    in seconds.
    """

    mode: str = "off"
    real_money: bool = False
    limits: RiskLimits = field(default_factory=RiskLimits)
    max_lateness: float = 3.0
    expiry: int = 1
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Store ``order`` (state ``requested``), then send ``frame`` through the page."""

    order: Order
    frame: str


@dataclass(frozen=True, slots=True)
class Refuse:
    """This signal places nothing: ``rule`` names why, ``message`` says it to the trader."""

    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class StopTrading:
    """Trading stops: nothing new is placed until it is started again."""

    rule: str
    message: str


Decision = PlaceOrder | Refuse | StopTrading


@dataclass(frozen=True, slots=True)
class Update:
    """What an event changed: order records to publish, and a stop if a rule now stops trading."""

    orders: list[Order] = field(default_factory=list)
    stop: StopTrading | None = None


@dataclass
class Trader:
    """The trader's state; every method takes the time and returns what to do or publish."""

    rules: TradeRules
    new_id: Callable[[], str] = new_request_id
    book: OrderBook = field(init=False)
    is_demo: bool | None = None
    balance: float | None = None
    payouts: dict[str, float] = field(default_factory=dict)
    closed_assets: set[str] = field(default_factory=set)
    page_down: str | None = None
    stopped: StopTrading | None = None
    reconciled: bool = False
    waiting: set[str] = field(default_factory=set)
    stale: int = 0
    refused: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.book = OrderBook(self.rules.timeout)

    # ------------------------------------------------------------------ signals

    def on_signal(self, signal: Signal, now: float) -> Decision | None:
        """What to do about a strategy's signal: place an order, refuse it, or stop trading."""
        if self.rules.mode == "off" or signal.direction == 0:
            return None
        decision = self._refusal(signal, now) or self._risk(signal, now)
        if isinstance(decision, Refuse):
            self.refused[decision.rule] += 1
        return decision

    def _refusal(self, signal: Signal, now: float) -> Refuse | None:
        lateness = now - (signal.time + signal.timeframe)
        if abs(lateness) > self.rules.max_lateness:
            self.stale += 1
            when = "late" if lateness > 0 else "early"
            return Refuse(
                "stale", f"the signal is {abs(lateness):.1f} s {when} (limit {self.rules.max_lateness:g} s)"
            )
        if self.stopped is not None:
            return Refuse("stopped", f"trading is stopped: {self.stopped.message}")
        blocked = self.blocker()
        if blocked is not None:
            return blocked
        expiry = self.rules.expiry * signal.timeframe
        if not MIN_EXPIRY <= expiry <= MAX_EXPIRY:
            return Refuse(
                "expiry", f"an order of {expiry} s is outside the broker's {MIN_EXPIRY}–{MAX_EXPIRY} s"
            )
        if signal.asset in self.closed_assets:
            return Refuse("asset_closed", f"{signal.asset} cannot be traded now")
        return None

    def blocker(self) -> Refuse | None:
        """Why nothing can be placed now whatever the signal, if anything stands in the way."""
        mode = self.rules.mode
        if mode == "real" and not self.rules.real_money:
            return Refuse("real_not_confirmed", "real-money trading needs the --real-money confirmation")
        if self.page_down is not None:
            return Refuse("page_lost", f"paused: {self.page_down}")
        if self.is_demo is None:
            return Refuse(
                "account_unknown", "paused: the page has not yet said whether its account is a demo"
            )
        if mode == "demo" and not self.is_demo:
            return Refuse("not_demo", "paused: the page is on a real account and trading is set to demo")
        if mode == "real" and self.is_demo:
            return Refuse("not_real", "paused: the page is on a demo account and trading is set to real")
        if self.balance is None:
            return Refuse("balance_unknown", "paused: the page has not yet said the balance")
        if not self.reconciled:
            return Refuse("reconciling", "waiting for the orders of the last run to be reconciled")
        return None

    def account(self, now: float) -> AccountState:
        """The account as the risk rules see it now."""
        return self.book.tally.account(
            balance=self.balance or 0.0, open_orders=len(self.book.live), payouts=self.payouts, now=now
        )

    def _risk(self, signal: Signal, now: float) -> Decision:
        verdict = check(self.rules.limits, self.account(now), Intent(signal.asset, signal.confidence))
        action = "call" if signal.direction > 0 else "put"
        expiry = self.rules.expiry * signal.timeframe
        return self._placed(verdict, signal.asset, action, expiry, now, signal.id)

    def on_manual(self, asset: str, action: str, amount: float, expiry: int, now: float) -> Decision | None:
        """An order the trader asks for by hand: the same rules as a signal's, with its own stake."""
        if self.rules.mode == "off" or action not in ("call", "put"):
            return None
        decision: Decision | None = self._manual_refusal(asset, expiry)
        if decision is None:
            limits = replace(self.rules.limits, stake=amount, fraction=None)
            decision = self._placed(
                check(limits, self.account(now), Intent(asset, 1.0)), asset, action, expiry, now
            )
        if isinstance(decision, Refuse):
            self.refused[decision.rule] += 1
        return decision

    def _manual_refusal(self, asset: str, expiry: int) -> Refuse | None:
        if self.stopped is not None:
            return Refuse("stopped", f"trading is stopped: {self.stopped.message}")
        blocked = self.blocker()
        if blocked is not None:
            return blocked
        if not MIN_EXPIRY <= expiry <= MAX_EXPIRY:
            return Refuse(
                "expiry", f"an order of {expiry} s is outside the broker's {MIN_EXPIRY}–{MAX_EXPIRY} s"
            )
        if asset in self.closed_assets:
            return Refuse("asset_closed", f"{asset} cannot be traded now")
        return None

    def _placed(
        self,
        verdict: Place | Refusal,
        asset: str,
        action: str,
        expiry: int,
        now: float,
        signal: str | None = None,
    ) -> Decision:
        if not isinstance(verdict, Place):
            if verdict.stops:
                self.stopped = StopTrading(verdict.rule, verdict.message)
                return self.stopped
            return Refuse(verdict.rule, verdict.message)
        # The broker takes cents, and its answers are matched on the amount sent: round down,
        # so a share of the balance never stakes more than the rule allows.
        amount = math.floor(verdict.stake * 100 + 1e-6) / 100
        if amount < self.rules.limits.min_stake or amount <= 0:
            return Refuse("stake", f"the stake {amount:.2f} is below the smallest amount")
        order = Order(
            request_id=self.new_id(),
            asset=asset,
            action=action,
            amount=amount,
            expiry=expiry,
            mode=self.rules.mode,
            state="requested",
            ts=now,
            signal=signal,
        )
        self.book.request(order)
        return PlaceOrder(order, order_frame(order))

    # ------------------------------------------------------------------ what the page says

    def on_event(self, kind: str, data: Mapping[str, Any], now: float) -> Update:
        """An event from ``qf:events``: the balance, deals, Chrome's status. Others change nothing."""
        if kind == "balance":
            self._account_seen(data.get("is_demo"), data.get("balance"))
            return Update()
        if kind == "chrome_status":
            self._chrome(data)
            return Update()
        found = deals_of(kind, data)
        if found is None:
            return Update()
        state, deals = found
        for deal in deals:
            self._account_seen(deal.is_demo, None)
        if state == "one":
            orders = [o for d in deals for o in self.book.on_deal(d, now)]
        else:
            orders = self.book.on_list(state, deals, now)
        return self._after(orders, now)

    def _account_seen(self, is_demo: Any, balance: Any) -> None:
        if isinstance(is_demo, bool):
            self.is_demo = is_demo
        if isinstance(balance, int | float) and not isinstance(balance, bool):
            self.balance = float(balance)

    def _chrome(self, data: Mapping[str, Any]) -> None:
        state = data.get("state")
        if state == "disconnected":
            reason = data.get("reason")
            self.page_lost(f"Chrome lost ({reason})" if reason else "Chrome lost")
        elif state in ("connected", "reconnected"):
            self.page_back()

    def page_lost(self, reason: str) -> None:
        """The page cannot be reached: pause, and forget the account until the page says it again."""
        self.page_down = reason
        self.is_demo = None
        self.balance = None

    def page_back(self) -> None:
        """The page is back; trading resumes once it has said which account it is on."""
        self.page_down = None

    def on_payout(self, payout: Payout) -> None:
        """The broker's payout of an asset changed (``payout`` in percent)."""
        self.payouts[payout.asset] = payout.payout / 100.0
        if payout.open:
            self.closed_assets.discard(payout.asset)
        else:
            self.closed_assets.add(payout.asset)

    # ------------------------------------------------------------------ time, stops, restarts

    def tick(self, now: float) -> Update:
        """Time passed: orders with no answer (or no close) in time become ``unknown``."""
        return self._after(self.book.expire(now), now)

    def send_failed(self, request_id: str, reason: str, now: float) -> Update:
        """The shell could not send the frame of an order it had stored."""
        return self._after(self.book.send_failed(request_id, reason, now), now)

    def _after(self, orders: list[Order], now: float) -> Update:
        if self.waiting:
            self.waiting.difference_update(o.request_id for o in orders if o.state != "requested")
            # The last order of the previous run to be settled ends the reconciliation.
            self.reconciled = not self.waiting
        stop = None
        if self.stopped is None and any(o.state == "closed" for o in orders):
            refusal = stop_rule(self.rules.limits, self.account(now))
            if refusal is not None:
                stop = self.stopped = StopTrading(refusal.rule, refusal.message)
        return Update(orders, stop)

    def stop(self, message: str = "stopped by the trader", rule: str = KILL_SWITCH) -> StopTrading:
        """The kill switch: nothing new is placed; open orders are still followed."""
        self.stopped = StopTrading(rule, message)
        return self.stopped

    def resume(self) -> None:
        """Start trading again after a stop (from the command line only, never from the web)."""
        self.stopped = None

    def restore(self, records: Sequence[Order], page: PageDeals, now: float) -> Update:
        """Take back the orders of the last run and reconcile the ones in flight with the page."""
        self.book.restore(records)
        in_flight = [o for o in self.book.orders.values() if o.state in ("requested", "open")]
        result = reconcile(in_flight, page, now, self.rules.timeout)
        for order in result.changes:
            self.book.orders[order.request_id] = order
            if order.state == "closed":
                self.book.tally.add_closed(order.profit or 0.0, now)
        self.waiting = {o.request_id for o in result.waiting}
        self.reconciled = result.done
        return Update(result.changes)

    def status(self, now: float) -> dict[str, Any]:
        """A snapshot for ``qf trade status``, the web app and ``qf:events``."""
        return snapshot(self, now)
