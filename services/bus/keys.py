"""Redis key names of the public contract (DESIGN §2), all under one prefix.

Tick partitions carry a Redis Cluster hash tag (``qf:ticks:{3}``) so the same layout spreads over a
cluster. Every function here is pure: it only builds strings.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from quantumflux.bus.ids import text

# Streams whose name is only ``{prefix}:{kind}``.
_SINGLE = frozenset({"events", "signals", "paper", "orders", "payouts"})
_PARTITION = re.compile(r"^\{(\d+)\}$")


def partition_of(asset: str, partitions: int) -> int:
    """The tick partition of an asset: crc32 of its UTF-8 name modulo the partition count."""
    return zlib.crc32(asset.encode("utf-8")) % partitions


@dataclass(frozen=True, slots=True)
class KeyName:
    """A key of the contract taken apart: its ``kind`` (``ticks``, ``candles``, ``bars``,
    ``series``, ``health``, ``events``, ``signals``, ``paper``, ``orders``, ``payouts`` or
    ``svc`` for a service's private key) and the parts its kind has."""

    kind: str
    partition: int | None = None
    tf: int | None = None
    asset: str | None = None
    service: str | None = None
    instance: str | None = None
    parts: tuple[str, ...] = ()  # the rest of a private key, after its service


def _timeframe(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) > 0 else None


def _parse_tail(kind: str, rest: str) -> KeyName | None:
    """The parts after ``{prefix}:{kind}:``; None when they are not what ``kind`` has."""
    if kind == "ticks":
        m = _PARTITION.match(rest)
        return KeyName(kind, partition=int(m.group(1))) if m else None
    if kind in ("candles", "bars"):
        tf = _timeframe(rest)
        return KeyName(kind, tf=tf) if tf else None
    if kind == "series":
        # Asset names may hold a colon; the timeframe is always last.
        asset, _, seconds = rest.rpartition(":")
        tf = _timeframe(seconds)
        return KeyName(kind, asset=asset, tf=tf) if asset and tf else None
    if kind == "health":
        service, _, instance = rest.partition(":")
        return KeyName(kind, service=service, instance=instance) if service and instance else None
    if kind == "svc":
        service, *parts = rest.split(":")
        return KeyName(kind, service=service, parts=tuple(parts)) if service else None
    return None


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names for one install (one prefix)."""

    prefix: str = "qf"

    def ticks(self, partition: int) -> str:
        """Tick stream of one partition."""
        return f"{self.prefix}:ticks:{{{partition}}}"

    def all_ticks(self, partitions: int) -> list[str]:
        """Every tick stream of an install with ``partitions`` partitions."""
        return [self.ticks(p) for p in range(partitions)]

    def candles(self, tf: int) -> str:
        """Every change of a candle (forming and closed) of one timeframe in seconds."""
        return f"{self.prefix}:candles:{tf}"

    def bars(self, tf: int) -> str:
        """Closed candles of one timeframe, exactly once each."""
        return f"{self.prefix}:bars:{tf}"

    def events(self) -> str:
        """Status and platform events of every service."""
        return f"{self.prefix}:events"

    def series(self, asset: str, tf: int) -> str:
        """Sorted set of recent closed candles of one asset and timeframe."""
        return f"{self.prefix}:series:{asset}:{tf}"

    def health(self, service: str, instance: str) -> str:
        """Heartbeat key of one running process (expires when it stops beating)."""
        return f"{self.prefix}:health:{service}:{instance}"

    def health_pattern(self) -> str:
        """Pattern matching every heartbeat key."""
        return f"{self.prefix}:health:*"

    def signals(self) -> str:
        """Live strategy signals."""
        return f"{self.prefix}:signals"

    def paper(self) -> str:
        """Paper-trading contracts and results."""
        return f"{self.prefix}:paper"

    def orders(self) -> str:
        """Every state change of every order placed with the broker."""
        return f"{self.prefix}:orders"

    def payouts(self) -> str:
        """Changes of the broker's payout per asset."""
        return f"{self.prefix}:payouts"

    def parse(self, key: str | bytes) -> KeyName | None:
        """A key name back into its parts, or None when it is not a key of the contract under
        this prefix (another install's, a stray one, a pattern)."""
        head = f"{self.prefix}:"
        name = text(key)
        if not name.startswith(head):
            return None
        kind, colon, rest = name[len(head) :].partition(":")
        if not colon:
            return KeyName(kind) if kind in _SINGLE else None
        return _parse_tail(kind, rest)

    def private(self, service: str, *parts: str | int) -> str:
        """A key owned by one service (checkpoints, leases, counters): not part of the contract.

        They live under ``{prefix}:svc:`` so they never share a name space with the public
        streams (``qf:candles:{tf}``, ``qf:signals``).
        """
        tail = ":".join(str(p) for p in parts)
        base = f"{self.prefix}:svc:{service}"
        return f"{base}:{tail}" if tail else base

    def stream_of_ticks(self, asset: str, partitions: int) -> str:
        """Tick stream an asset's ticks go to."""
        return self.ticks(partition_of(asset, partitions))
