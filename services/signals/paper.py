"""Paper trading with the backtest engine's rules, one closed candle at a time (pure).

A *book* is one strategy (with its parameters) on one asset at one timeframe, with its own
balance: exactly what one backtest run on that asset's dataset trades. Per closed candle, in this
order (the engine's order):

1. a gap (the candle is not one timeframe after the previous one) voids every open contract of
   the asset and timeframe: the engine skips a signal whose expiry candle is not exactly
   ``expiry`` timeframes later, and no later signal is blocked by it;
2. open contracts whose expiry candle this is settle at its close (call wins when higher, put when
   lower, equal refunds), with the engine's own settlement function;
3. the strategy's signal at this candle, if its confidence reaches ``min_confidence``, opens a
   contract at this close, unless the book already has one open (without ``overlap``).

Balances follow the engine's arithmetic exactly (fixed stake: start + running sum of profits;
fractional stake: start × running product of ``1 + fraction × return``), so the numbers equal
the backtest's to the last bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from quantumflux.backtest.engine import EngineConfig, run
from quantumflux.bus.trading import PaperContract


@dataclass(frozen=True)
class Rules(EngineConfig):
    """The paper-trading settings: the backtest engine's settings, with its checks and messages."""

    def takes(self, direction: int, confidence: float) -> bool:
        """True when a signal opens a contract (the engine's min-confidence rule)."""
        if direction == 0:
            return False
        return not (self.min_confidence > 0 and not confidence >= self.min_confidence)


@dataclass
class Contract:
    """An open paper contract."""

    id: str
    book: str
    direction: int
    confidence: float
    entry_time: int
    entry_price: float
    stake: float
    payout: float
    left: int  # closed candles still to come; it settles at the close of the last one
    expiry: int


@dataclass
class Book:
    """One strategy on one asset and timeframe: balance, counts and open contracts."""

    key: str
    run: str
    asset: str
    tf: int
    start: float
    total: float = 0.0  # running sum of profits (fixed stake)
    growth: float = 1.0  # running product of 1 + fraction × return (fractional stake)
    trades: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0
    voided: int = 0
    open: list[Contract] = field(default_factory=list)

    def balance(self, fraction: float | None) -> float:
        """Balance after every settled contract (the engine's formula)."""
        return self.start * self.growth if fraction is not None else self.start + self.total


def book_key(run_key: str, asset: str, tf_label: str) -> str:
    """Name of a book: ``sma_cross(fast=3)@EURUSD_otc:1m``."""
    return f"{run_key}@{asset}:{tf_label}"


def settle_one(c: Contract, expiry_time: int, expiry_price: float) -> tuple[int, float]:
    """Outcome (+1 win, −1 loss, 0 tie) and profit of a contract, by the engine itself."""
    t = run(
        np.array([c.entry_time, expiry_time], dtype=np.int64),
        np.array([c.entry_price, expiry_price], dtype=np.float64),
        np.array([c.direction, 0], dtype=np.int8),
        np.array([c.confidence, 0.0], dtype=np.float64),
        EngineConfig(expiry=1, payout=c.payout, stake=c.stake),
    )
    return int(t.outcome[0]), float(t.pnl[0])


@dataclass
class Paper:
    """Every book's state; :meth:`on_candle` and :meth:`on_signal` return the events to publish."""

    rules: Rules
    books: dict[str, Book] = field(default_factory=dict)
    total_pnl: float = 0.0
    # Books changed since the last checkpoint (only those are saved again).
    dirty: set[str] = field(default_factory=set)

    def book(self, run_key: str, asset: str, tf: int, tf_label: str) -> Book:
        """The book of a strategy on an asset and timeframe (opened at the starting balance)."""
        key = book_key(run_key, asset, tf_label)
        b = self.books.get(key)
        if b is None:
            b = self.books[key] = Book(key, run_key, asset, tf, self.rules.balance)
            self.dirty.add(key)
        return b

    def _event(self, kind: str, b: Book, c: Contract, **extra: Any) -> PaperContract:
        # The strategy's name and parameters are the service's to add: the book only knows the run.
        fields: dict[str, Any] = {"expiry_time": c.entry_time + c.expiry * b.tf, **extra}
        return PaperContract(
            kind=kind,
            id=c.id,
            book=b.key,
            run=b.run,
            asset=b.asset,
            timeframe=b.tf,
            direction=c.direction,
            confidence=c.confidence,
            entry_time=c.entry_time,
            entry_price=c.entry_price,
            stake=c.stake,
            payout=c.payout,
            balance=b.balance(self.rules.fraction),
            trades=b.trades,
            wins=b.wins,
            losses=b.losses,
            ties=b.ties,
            voided=b.voided,
            total_pnl=self.total_pnl,
            **fields,
        )

    def on_candle(self, asset: str, tf: int, time: int, close: float, gap: bool) -> list[PaperContract]:
        """Void (after a gap) or settle the open contracts of ``asset`` at ``tf`` on a new closed candle."""
        events: list[PaperContract] = []
        for b in self.books.values():
            if b.asset != asset or b.tf != tf or not b.open:
                continue
            self.dirty.add(b.key)
            still: list[Contract] = []
            for c in b.open:
                if gap:
                    b.voided += 1
                    events.append(self._event("void", b, c, reason="gap", at_time=time))
                    continue
                c.left -= 1
                if c.left > 0:
                    still.append(c)
                    continue
                outcome, pnl = settle_one(c, time, close)
                if self.rules.fraction is not None:
                    ret = c.payout if outcome > 0 else (-1.0 if outcome < 0 else 0.0)
                    b.growth = b.growth * (1.0 + self.rules.fraction * ret)
                else:
                    b.total = b.total + pnl
                self.total_pnl += pnl
                b.trades += 1
                b.wins += outcome > 0
                b.losses += outcome < 0
                b.ties += outcome == 0
                events.append(
                    self._event(
                        "settle", b, c, expiry_time=time, expiry_price=close, outcome=outcome, pnl=pnl
                    )
                )
            b.open = still
        return events

    def on_signal(
        self,
        b: Book,
        time: int,
        close: float,
        direction: int,
        confidence: float,
        payout: float,
    ) -> PaperContract | None:
        """Open a contract for a signal at this candle's close, if the rules take it."""
        if not self.rules.takes(direction, confidence):
            return None
        if b.open and not self.rules.overlap:
            return None
        stake = (
            self.rules.fraction * b.balance(self.rules.fraction)
            if self.rules.fraction is not None
            else float(self.rules.stake)
        )
        c = Contract(
            id=f"{b.key}#{time}",
            book=b.key,
            direction=direction,
            confidence=confidence,
            entry_time=time,
            entry_price=close,
            stake=stake,
            payout=payout,
            left=self.rules.expiry,
            expiry=self.rules.expiry,
        )
        b.open.append(c)
        self.dirty.add(b.key)
        return self._event("open", b, c)

    # -- checkpoint form -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Plain values (for msgpack) from which :meth:`from_state` rebuilds this object."""
        return {"total_pnl": self.total_pnl, "books": [book_state(b) for b in self.books.values()]}

    @classmethod
    def from_state(cls, rules: Rules, state: dict[str, Any] | None) -> Paper:
        """The paper state saved by :meth:`to_state` (empty when ``state`` is None)."""
        paper = cls(rules)
        if not state:
            return paper
        paper.total_pnl = float(state.get("total_pnl", 0.0))
        for raw in state.get("books", []):
            b = book_from_state(raw)
            paper.books[b.key] = b
        return paper


def book_state(b: Book) -> dict[str, Any]:
    """A book as plain values (for msgpack)."""
    out = {k: v for k, v in asdict(b).items() if k != "open"}
    out["open"] = [asdict(c) for c in b.open]
    return out


def book_from_state(raw: dict[str, Any]) -> Book:
    """The book saved by :func:`book_state`."""
    data = dict(raw)
    opened = [Contract(**c) for c in data.pop("open", [])]
    b = Book(**data)
    b.open = opened
    return b
