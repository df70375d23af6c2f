"""The results the risk rules look at: today's profit, losses in a row, orders in the last hour (pure).

Kept as running counts, updated as orders close or are sent, so a long session needs no history;
:meth:`Tally.of` rebuilds them from the order records kept on disk after a restart, and
:meth:`Tally.to_state` / :meth:`Tally.from_state` carry a paper book's across a checkpoint.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quantumflux.bus.trading import Order
from quantumflux.risk.rules import AccountState

DAY = 86400
HOUR = 3600.0


def utc_day(ts: float) -> int:
    """The UTC day (days since 1970-01-01) of an epoch time."""
    return int(ts // DAY)


@dataclass
class Tally:
    """Running results of the closed orders and the times orders were sent."""

    day: int = 0
    day_pnl: float = 0.0
    total_pnl: float = 0.0
    streak: int = 0  # losses in a row, up to the last closed order
    wins: int = 0
    losses: int = 0
    ties: int = 0
    sent: deque[float] = field(default_factory=deque)

    def add_sent(self, ts: float) -> None:
        """An order was sent at ``ts``."""
        self.sent.append(ts)

    def add_closed(self, profit: float, ts: float) -> None:
        """An order closed at ``ts`` with this profit (negative: lost, 0: refunded)."""
        day = utc_day(ts)
        if day > self.day:
            self.day, self.day_pnl = day, 0.0
        if day == self.day:
            self.day_pnl += profit
        self.total_pnl += profit
        if profit > 0:
            self.wins += 1
            self.streak = 0
        elif profit < 0:
            self.losses += 1
            self.streak += 1
        else:
            self.ties += 1

    def today_pnl(self, now: float) -> float:
        """Profit of the orders closed on ``now``'s UTC day."""
        return self.day_pnl if utc_day(now) == self.day else 0.0

    def last_hour(self, now: float) -> int:
        """Orders sent in the hour before ``now`` (older times are forgotten)."""
        while self.sent and self.sent[0] <= now - HOUR:
            self.sent.popleft()
        return sum(1 for ts in self.sent if ts <= now)

    def account(
        self, *, balance: float, open_orders: int, payouts: Mapping[str, float], now: float
    ) -> AccountState:
        """The account as the risk rules see it at ``now``, with these results."""
        return AccountState(
            balance=balance,
            open_orders=open_orders,
            today_pnl=self.today_pnl(now),
            last_hour=self.last_hour(now),
            losses_in_a_row=self.streak,
            payouts=payouts,
        )

    def to_map(self, now: float) -> dict[str, Any]:
        return {
            "today_pnl": self.today_pnl(now),
            "total_pnl": self.total_pnl,
            "losses_in_a_row": self.streak,
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "last_hour": self.last_hour(now),
        }

    @classmethod
    def of(cls, orders: Iterable[Order]) -> Tally:
        """The tally of every state change of every order, in the order they happened."""
        tally = cls()
        for order in sorted(orders, key=lambda o: o.ts):
            if order.state == "requested":
                tally.add_sent(order.ts)
            elif order.state == "closed":
                tally.add_closed(order.profit or 0.0, order.ts)
        return tally

    def to_state(self) -> dict[str, Any]:
        """Plain values (for msgpack) from which :meth:`from_state` rebuilds this tally."""
        names = ("day", "day_pnl", "total_pnl", "streak", "wins", "losses", "ties")
        return {**{n: getattr(self, n) for n in names}, "sent": list(self.sent)}

    @classmethod
    def from_state(cls, raw: Mapping[str, Any] | None) -> Tally:
        """The tally saved by :meth:`to_state` (a fresh one for None: a book saved before tallies)."""
        if not raw:
            return cls()
        data = dict(raw)
        return cls(**{**data, "sent": deque(float(t) for t in data.get("sent", []))})
