"""What ``qf signals`` shows: recent signals, paper accounts and contracts (pure: maps → tables)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table

ARROW = {1: "CALL ▲", -1: "PUT ▼", 0: "-"}
OUTCOME = {1: "won", -1: "lost", 0: "tie"}


def _when(t: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(t)))
    except (TypeError, ValueError, OverflowError):
        return "?"


def _money(x: Any) -> str:
    try:
        return f"{float(x):,.2f}"
    except (TypeError, ValueError):
        return "?"


@dataclass
class Board:
    """The latest signals, contracts and each paper account's numbers, fed one map at a time."""

    keep: int = 15
    signals: list[dict[str, Any]] = field(default_factory=list)
    contracts: list[dict[str, Any]] = field(default_factory=list)
    books: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_signal(self, s: dict[str, Any]) -> None:
        """A map from ``{prefix}:signals``."""
        self.signals.append(s)
        del self.signals[: -self.keep]

    def add_paper(self, p: dict[str, Any]) -> None:
        """A map from ``{prefix}:paper``."""
        book = p.get("book")
        if isinstance(book, str):
            self.books[book] = p
        if p.get("kind") in ("settle", "void"):
            self.contracts.append(p)
            del self.contracts[: -self.keep]

    def feed(self, signals: Iterable[dict[str, Any]], paper: Iterable[dict[str, Any]]) -> None:
        """Many maps at once, oldest first."""
        for s in signals:
            self.add_signal(s)
        for p in paper:
            self.add_paper(p)

    def render(self) -> Group:
        """Three tables: signals, paper accounts, settled contracts."""
        sig = Table(title="Live signals (newest last)", expand=True)
        for col in ("candle (UTC)", "asset", "tf", "strategy", "signal", "confidence", "price", "paper"):
            sig.add_column(col)
        for s in self.signals:
            sig.add_row(
                _when(s.get("time")),
                str(s.get("asset")),
                str(s.get("label") or s.get("timeframe")),
                str(s.get("run") or s.get("strategy")),
                ARROW.get(s.get("direction", 0), "?"),
                f"{float(s.get('confidence') or 0):.2f}",
                str(s.get("price")),
                "opened" if s.get("contract") else "not taken",
            )
        acc = Table(title="Paper accounts", expand=True)
        for col in ("strategy", "asset", "tf", "balance", "trades", "won", "lost", "tie", "win rate", "open"):
            acc.add_column(col)
        for p in sorted(self.books.values(), key=lambda m: str(m.get("book"))):
            trades = int(p.get("trades") or 0)
            wins = int(p.get("wins") or 0)
            acc.add_row(
                str(p.get("run")),
                str(p.get("asset")),
                str(p.get("label") or p.get("timeframe")),
                _money(p.get("balance")),
                str(trades),
                str(wins),
                str(p.get("losses")),
                str(p.get("ties")),
                f"{100.0 * wins / trades:.1f}%" if trades else "-",
                "yes" if p.get("kind") == "open" else "no",
            )
        latest = max(self.books.values(), key=lambda m: float(m.get("ts") or 0), default=None)
        pnl = float(latest.get("total_pnl") or 0.0) if latest else 0.0
        acc.caption = f"Profit or loss of all paper accounts together: {_money(pnl)}"
        done = Table(title="Settled paper contracts (newest last)", expand=True)
        for col in (
            "entry (UTC)",
            "asset",
            "strategy",
            "side",
            "entry",
            "expiry",
            "result",
            "profit",
            "balance",
        ):
            done.add_column(col)
        for c in self.contracts:
            result = "void (gap)" if c.get("kind") == "void" else OUTCOME.get(c.get("outcome", 0), "?")
            done.add_row(
                _when(c.get("entry_time")),
                str(c.get("asset")),
                str(c.get("run")),
                ARROW.get(c.get("direction", 0), "?"),
                str(c.get("entry_price")),
                str(c.get("expiry_price", "-")),
                result,
                _money(c.get("pnl", 0.0)),
                _money(c.get("balance")),
            )
        return Group(sig, acc, done)
