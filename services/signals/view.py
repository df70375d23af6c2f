"""What ``qf signals`` shows: recent signals, paper accounts and contracts (pure: records → tables)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table

from quantumflux.bus.trading import PaperContract, Signal

ARROW = {1: "CALL ▲", -1: "PUT ▼", 0: "-"}
OUTCOME = {1: "won", -1: "lost", 0: "tie"}


def _when(t: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(t)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def _money(x: float | None) -> str:
    return "?" if x is None else f"{x:,.2f}"


def _table(title: str, columns: Iterable[str]) -> Table:
    table = Table(title=title, expand=True)
    for col in columns:
        table.add_column(col)
    return table


def signals_table(signals: Iterable[Signal]) -> Table:
    """The latest signals, newest last."""
    table = _table(
        "Live signals (newest last)",
        ("candle (UTC)", "asset", "tf", "strategy", "signal", "confidence", "price", "paper"),
    )
    for s in signals:
        table.add_row(
            _when(s.time),
            s.asset,
            s.label,
            s.run or s.strategy,
            ARROW.get(s.direction, "?"),
            f"{s.confidence:.2f}",
            str(s.price),
            "opened" if s.contract else "not taken",
        )
    return table


def accounts_table(books: Iterable[PaperContract]) -> Table:
    """Each paper account's numbers after its latest contract event."""
    table = _table(
        "Paper accounts",
        ("strategy", "asset", "tf", "balance", "trades", "won", "lost", "tie", "win rate", "open"),
    )
    latest: PaperContract | None = None
    for p in sorted(books, key=lambda m: m.book):
        table.add_row(
            p.run,
            p.asset,
            p.label,
            _money(p.balance),
            str(p.trades),
            str(p.wins),
            str(p.losses),
            str(p.ties),
            f"{100.0 * p.wins / p.trades:.1f}%" if p.trades else "-",
            "yes" if p.kind == "open" else "no",
        )
        if latest is None or p.ts > latest.ts:
            latest = p
    # Every event carries the total of all accounts; the newest one is the current total.
    pnl = latest.total_pnl if latest else 0.0
    table.caption = f"Profit or loss of all paper accounts together: {_money(pnl)}"
    return table


def contracts_table(contracts: Iterable[PaperContract]) -> Table:
    """Contracts that settled or were voided, newest last."""
    table = _table(
        "Settled paper contracts (newest last)",
        ("entry (UTC)", "asset", "strategy", "side", "entry", "expiry", "result", "profit", "balance"),
    )
    for c in contracts:
        result = "void (gap)" if c.kind == "void" else OUTCOME.get(c.outcome or 0, "?")
        table.add_row(
            _when(c.entry_time),
            c.asset,
            c.run,
            ARROW.get(c.direction, "?"),
            str(c.entry_price),
            "-" if c.expiry_price is None else str(c.expiry_price),
            result,
            _money(c.pnl or 0.0),
            _money(c.balance),
        )
    return table


@dataclass
class Board:
    """The latest signals, contracts and each paper account's numbers, fed one record at a time."""

    keep: int = 15
    signals: list[Signal] = field(default_factory=list)
    contracts: list[PaperContract] = field(default_factory=list)
    books: dict[str, PaperContract] = field(default_factory=dict)

    def add_signal(self, s: Signal) -> None:
        """A record from ``{prefix}:signals``."""
        self.signals.append(s)
        del self.signals[: -self.keep]

    def add_paper(self, p: PaperContract) -> None:
        """A record from ``{prefix}:paper``."""
        self.books[p.book] = p
        if p.kind in ("settle", "void"):
            self.contracts.append(p)
            del self.contracts[: -self.keep]

    def feed(self, signals: Iterable[Signal], paper: Iterable[PaperContract]) -> None:
        """Many records at once, oldest first."""
        for s in signals:
            self.add_signal(s)
        for p in paper:
            self.add_paper(p)

    def render(self) -> Group:
        """Three tables: signals, paper accounts, settled contracts."""
        return Group(
            signals_table(self.signals), accounts_table(self.books.values()), contracts_table(self.contracts)
        )
