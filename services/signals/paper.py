"""Paper trading with the backtest engine's rules, one closed candle at a time (pure).

A *book* is one strategy (with its parameters) on one asset at one timeframe, with its own
balance: exactly what one backtest run on that asset's dataset trades. Per closed candle, in this
order (the engine's order):

1. a gap (the candle is not one timeframe after the previous one) voids every open contract of
   the asset and timeframe: the engine skips a signal whose expiry candle is not exactly
   ``expiry`` timeframes later, and no later signal is blocked by it;
2. open contracts whose expiry candle this is settle at its close (call wins when higher, put when
   lower, equal refunds), with the engine's own settlement function;
3. the strategy's signal at this candle opens a contract at this close if the risk rules
   (:mod:`quantumflux.risk`, the very rules the trader places real orders under) take it: the
   stake (fixed or a share of the book's balance), the lowest confidence, one contract open at
   a time (without ``overlap``), and, when set, the daily loss, losses in a row, orders per
   hour, allowed assets and lowest payout. A book's "now" is the candle's close, so replaying
   history applies the rules as they would have applied live.

Balances follow the engine's arithmetic exactly (fixed stake: start + running sum of profits;
fractional stake: start × running product of ``1 + fraction × return``), so with no limit beyond
the engine's own settings the numbers equal the backtest's to the last bit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from quantumflux.backtest.engine import EngineConfig, run
from quantumflux.bus.trading import PaperContract
from quantumflux.risk.rules import Intent, Refusal, RiskLimits, check
from quantumflux.risk.tally import Tally


@dataclass(frozen=True)
class Rules(EngineConfig):
    """The paper-trading settings: the backtest engine's settings (with its checks and messages)
    and the risk limits beyond them (None: no limit, as in a backtest)."""

    daily_loss: float | None = None
    max_losses: int | None = None
    max_per_hour: int | None = None
    assets: frozenset[str] = frozenset()
    min_payout: float = 0.0

    def limits(self) -> RiskLimits:
        """The risk rules a book trades under: the engine's stake, confidence and overlap rules
        in the shared form, and the limits beyond them."""
        return RiskLimits(
            stake=float(self.stake),
            fraction=self.fraction,
            min_stake=0.0,
            max_open=None if self.overlap else 1,
            daily_loss=self.daily_loss,
            max_per_hour=self.max_per_hour,
            max_losses=self.max_losses,
            assets=self.assets,
            min_payout=self.min_payout,
            min_confidence=self.min_confidence,
        )


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
    # Results the risk rules look at, and signals they turned down (by rule).
    tally: Tally = field(default_factory=Tally)
    refused: Counter[str] = field(default_factory=Counter)

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
    limits: RiskLimits = field(init=False)
    total_pnl: float = 0.0
    # Books changed since the last checkpoint (only those are saved again).
    dirty: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.limits = self.rules.limits()

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
                b.tally.add_closed(pnl, time + tf)
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
        """Open a contract for a signal at this candle's close, if the risk rules take it."""
        if direction == 0:
            return None
        now = time + b.tf
        balance = b.balance(self.rules.fraction)
        account = b.tally.account(
            balance=balance, open_orders=len(b.open), payouts={b.asset: payout}, now=now
        )
        verdict = check(self.limits, account, Intent(b.asset, confidence))
        if isinstance(verdict, Refusal):
            b.refused[verdict.rule] += 1
            self.dirty.add(b.key)
            return None
        b.tally.add_sent(now)
        stake = verdict.stake
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
    out = {k: v for k, v in asdict(b).items() if k not in ("open", "tally", "refused")}
    out["open"] = [asdict(c) for c in b.open]
    out["tally"] = b.tally.to_state()
    out["refused"] = dict(b.refused)
    return out


def book_from_state(raw: dict[str, Any]) -> Book:
    """The book saved by :func:`book_state`."""
    data = dict(raw)
    opened = [Contract(**c) for c in data.pop("open", [])]
    tally = Tally.from_state(data.pop("tally", None))
    refused = Counter({str(k): int(v) for k, v in (data.pop("refused", None) or {}).items()})
    b = Book(**data)
    b.open, b.tally, b.refused = opened, tally, refused
    return b
