"""One browser's queue of outgoing messages: bounded, coalescing, never losing a closed candle.

Pure: no sockets and no clock (the caller passes ``now``). A forming candle of one (asset,
timeframe) replaces the one still waiting, in its place; a closed candle removes the forming one
of the same stream that is still waiting (it is older news) and goes to the end. So a slow
browser sees fewer forming updates, all closed candles, and never an older candle after a newer.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Message:
    """One message for a browser: an event name and what ``send`` needs (already encoded)."""

    event: str
    body: Any
    coalesce: Key | None = None


@dataclass(slots=True)
class OutboxCounts:
    """What happened to the messages of one browser."""

    queued: int = 0
    sent: int = 0
    coalesced: int = 0
    dropped: int = 0


class Outbox:
    """The messages waiting for one browser, in the order they must be sent.

    ``limit`` is the most messages that may wait; above it :meth:`verdict` says the browser is too
    slow. Above half of it for longer than ``patience`` seconds is too slow as well.
    """

    def __init__(self, limit: int, patience: float) -> None:
        self.limit = limit
        self.patience = patience
        self.counts = OutboxCounts()
        self._items: OrderedDict[Key, Message] = OrderedDict()
        self._seq = 0
        self._busy_since: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: Message, now: float) -> None:
        """Queue a message; a coalescable one replaces its waiting twin in place."""
        self.counts.queued += 1
        key = message.coalesce
        if key is not None and key in self._items:
            self._items[key] = message
            self.counts.coalesced += 1
        else:
            if key is None:
                self._seq += 1
                key = ("seq", self._seq)
            self._items[key] = message
        self._track(now)

    def supersede(self, key: Key) -> bool:
        """Forget the waiting message with this coalescing key (a closed candle replaced it)."""
        if self._items.pop(key, None) is not None:
            self.counts.coalesced += 1
            return True
        return False

    def pop(self, now: float) -> Message | None:
        """The next message to send, or None when nothing waits."""
        if not self._items:
            return None
        _, msg = self._items.popitem(last=False)
        self.counts.sent += 1
        self._track(now)
        return msg

    def clear(self) -> int:
        """Forget every waiting message (the browser is gone); returns how many were dropped."""
        n = len(self._items)
        self._items.clear()
        self.counts.dropped += n
        return n

    def _track(self, now: float) -> None:
        if len(self._items) > self.limit // 2:
            if self._busy_since is None:
                self._busy_since = now
        else:
            self._busy_since = None

    def verdict(self, now: float) -> str | None:
        """Why this browser is too slow to keep, or None while it keeps up."""
        n = len(self._items)
        if n > self.limit:
            return f"too slow: {n} messages waiting (the limit is {self.limit})"
        if self._busy_since is not None and now - self._busy_since > self.patience:
            return f"too slow: more than {self.limit // 2} messages waiting for over {self.patience:g} s"
        return None
