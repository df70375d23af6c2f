"""Redis key names of the public contract (DESIGN §2), all under one prefix.

Tick partitions carry a Redis Cluster hash tag (``qf:ticks:{3}``) so the same layout spreads over a
cluster. Every function here is pure: it only builds strings.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


def partition_of(asset: str, partitions: int) -> int:
    """The tick partition of an asset: crc32 of its UTF-8 name modulo the partition count."""
    return zlib.crc32(asset.encode("utf-8")) % partitions


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
