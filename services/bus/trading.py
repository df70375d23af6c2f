"""Trading records of the public contract: signals, paper contracts and orders (DESIGN §2).

``qf:signals`` carries :class:`Signal`, ``qf:paper`` carries :class:`PaperContract` (one entry
when a contract opens and one when it ends) and ``qf:orders`` carries :class:`Order` (one entry
per state change). Their maps keep the keys readers already know, so a reader that never heard
of these classes reads them as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quantumflux.bus import fields as f
from quantumflux.bus.fields import SCHEMA_VERSION
from quantumflux.bus.timeframes import label

PAPER_KINDS = ("open", "settle", "void")
ORDER_ACTIONS = ("call", "put")
ORDER_MODES = ("demo", "real")
ORDER_STATES = ("requested", "open", "rejected", "closed", "unknown")


@dataclass(frozen=True, slots=True)
class Signal:
    """A strategy's call (+1) or put (−1) at the close of the candle opened at ``time``.

    ``run`` names the strategy with the parameters that differ from its defaults; ``contract``
    is the id of the paper contract the signal opened, if it opened one.
    """

    id: str
    asset: str
    timeframe: int
    time: int
    direction: int
    confidence: float
    strategy: str
    params: dict[str, Any] | None
    run: str
    price: float
    contract: str | None = None
    ts: float = 0.0

    @property
    def label(self) -> str:
        """The timeframe as the chart names it (``1m``)."""
        return label(self.timeframe)

    def to_map(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "id": self.id,
            "asset": self.asset,
            "timeframe": self.timeframe,
            "label": self.label,
            "time": self.time,
            "direction": self.direction,
            "confidence": self.confidence,
            "strategy": self.strategy,
            "params": self.params,
            "run": self.run,
            "price": self.price,
            "contract": self.contract,
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class PaperContract:
    """A paper contract opening (``open``), settling (``settle``) or voided by a gap (``void``).

    ``balance`` and the counts are the paper account's (the *book*'s) after this event,
    ``total_pnl`` the profit of every paper account together. ``expiry_price``, ``outcome``
    (+1 won, −1 lost, 0 refund) and ``pnl`` come with ``settle`` only; ``reason`` and
    ``at_time`` (the candle that showed the gap) with ``void`` only.
    """

    kind: str
    id: str
    book: str
    run: str
    asset: str
    timeframe: int
    direction: int
    confidence: float
    entry_time: int
    entry_price: float
    expiry_time: int
    stake: float
    payout: float
    balance: float
    trades: int
    wins: int
    losses: int
    ties: int
    voided: int
    total_pnl: float
    strategy: str = ""
    params: dict[str, Any] | None = None
    expiry_price: float | None = None
    outcome: int | None = None
    pnl: float | None = None
    reason: str | None = None
    at_time: int | None = None
    ts: float = 0.0

    @property
    def label(self) -> str:
        """The timeframe as the chart names it (``1m``)."""
        return label(self.timeframe)

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "kind": self.kind,
            "id": self.id,
            "book": self.book,
            "run": self.run,
            "asset": self.asset,
            "timeframe": self.timeframe,
            "direction": self.direction,
            "confidence": self.confidence,
            "entry_time": self.entry_time,
            "entry_price": self.entry_price,
            "expiry_time": self.expiry_time,
            "stake": self.stake,
            "payout": self.payout,
        }
        if self.kind == "void":
            out.update(reason=self.reason, at_time=self.at_time)
        elif self.kind == "settle":
            out.update(expiry_price=self.expiry_price, outcome=self.outcome, pnl=self.pnl)
        out.update(
            balance=self.balance,
            trades=self.trades,
            wins=self.wins,
            losses=self.losses,
            ties=self.ties,
            voided=self.voided,
            total_pnl=self.total_pnl,
            strategy=self.strategy,
            params=self.params,
            label=self.label,
            ts=self.ts,
        )
        return out


@dataclass(frozen=True, slots=True)
class Order:
    """One state of a real or demo order placed with the broker (``qf:orders``).

    ``request_id`` is chosen before the order is sent, so an order of unknown fate can be
    matched with the deals the broker reports later. ``signal`` is the id of the strategy's
    signal that placed it (the signal's and its paper contract's id); None for an order by hand.
    """

    request_id: str
    asset: str
    action: str
    amount: float
    expiry: int
    mode: str
    state: str
    deal_id: str | None = None
    open_price: float | None = None
    close_price: float | None = None
    profit: float | None = None
    reason: str | None = None
    ts: float = 0.0
    signal: str | None = None

    def to_map(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "kind": "order",
            "request_id": self.request_id,
            "asset": self.asset,
            "action": self.action,
            "amount": self.amount,
            "expiry": self.expiry,
            "mode": self.mode,
            "state": self.state,
            "deal_id": self.deal_id,
            "open_price": self.open_price,
            "close_price": self.close_price,
            "profit": self.profit,
            "reason": self.reason,
            "ts": self.ts,
            "signal": self.signal,
        }


def signal_from_map(obj: dict[str, Any]) -> Signal:
    """A :class:`Signal` from its map (``label`` is derived, so it is not read)."""
    return Signal(
        id=f.name(obj, "id"),
        asset=f.name(obj, "asset"),
        timeframe=f.whole(obj, "timeframe"),
        time=f.whole(obj, "time"),
        direction=f.direction(obj),
        confidence=f.real(obj, "confidence"),
        strategy=f.name(obj, "strategy"),
        params=f.params(obj, "params"),
        run=f.name(obj, "run"),
        price=f.num(obj, "price"),
        contract=f.maybe_text(obj, "contract"),
        ts=f.num(obj, "ts"),
    )


def paper_from_map(obj: dict[str, Any]) -> PaperContract:
    """A :class:`PaperContract` from its map."""
    return PaperContract(
        kind=f.one_of(obj, "kind", PAPER_KINDS),
        id=f.name(obj, "id"),
        book=f.name(obj, "book"),
        run=f.name(obj, "run"),
        asset=f.name(obj, "asset"),
        timeframe=f.whole(obj, "timeframe"),
        direction=f.direction(obj),
        confidence=f.real(obj, "confidence"),
        entry_time=f.whole(obj, "entry_time"),
        entry_price=f.num(obj, "entry_price"),
        expiry_time=f.whole(obj, "expiry_time"),
        stake=f.num(obj, "stake"),
        payout=f.num(obj, "payout"),
        balance=f.num(obj, "balance"),
        trades=f.whole(obj, "trades"),
        wins=f.whole(obj, "wins"),
        losses=f.whole(obj, "losses"),
        ties=f.whole(obj, "ties"),
        voided=f.whole(obj, "voided"),
        total_pnl=f.num(obj, "total_pnl"),
        strategy=f.maybe_text(obj, "strategy") or "",
        params=f.params(obj, "params"),
        expiry_price=f.maybe_num(obj, "expiry_price"),
        outcome=f.maybe_whole(obj, "outcome"),
        pnl=f.maybe_num(obj, "pnl"),
        reason=f.maybe_text(obj, "reason"),
        at_time=f.maybe_whole(obj, "at_time"),
        ts=f.num(obj, "ts"),
    )


def order_from_map(obj: dict[str, Any]) -> Order:
    """An :class:`Order` from its map."""
    return Order(
        request_id=f.name(obj, "request_id"),
        asset=f.name(obj, "asset"),
        action=f.one_of(obj, "action", ORDER_ACTIONS),
        amount=f.num(obj, "amount"),
        expiry=f.whole(obj, "expiry"),
        mode=f.one_of(obj, "mode", ORDER_MODES),
        state=f.one_of(obj, "state", ORDER_STATES),
        deal_id=f.maybe_text(obj, "deal_id"),
        open_price=f.maybe_num(obj, "open_price"),
        close_price=f.maybe_num(obj, "close_price"),
        profit=f.maybe_num(obj, "profit"),
        reason=f.maybe_text(obj, "reason"),
        ts=f.num(obj, "ts"),
        signal=f.maybe_text(obj, "signal"),
    )


@dataclass(frozen=True, slots=True)
class Payout:
    """The broker's payout for an asset (percent) from ``ts`` on, and whether it can be traded."""

    asset: str
    ts: float
    payout: float
    open: bool

    def to_map(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "kind": "payout",
            "asset": self.asset,
            "ts": self.ts,
            "payout": self.payout,
            "open": self.open,
        }


def payout_from_map(obj: dict[str, Any]) -> Payout:
    """A :class:`Payout` from its map."""
    is_open = obj.get("open")
    if not isinstance(is_open, bool):
        raise f.RecordError("bad_field", f"open must be true or false, not {is_open!r}")
    return Payout(asset=f.name(obj, "asset"), ts=f.num(obj, "ts"), payout=f.num(obj, "payout"), open=is_open)
