"""Each tick published once, however many of the trader's tabs received it."""

from __future__ import annotations

from collections import deque
from typing import Any

from quantumflux.bus.records import Tick


class RepeatFilter:
    """Drops a tick already published from another socket (two tabs on the same feed).

    Every tab on the broker's page gets the same ``updateStream``; the market saw each tick once,
    so it is published once. A tick is the same when asset, time and price are equal; the last
    few hundred of each asset are remembered.
    """

    def __init__(self, per_asset: int = 512) -> None:
        self.per_asset = per_asset
        self._seen: dict[str, tuple[set[tuple[float, float]], deque[tuple[float, float]]]] = {}
        self.dropped = 0

    def filter(self, records: list[Any]) -> list[Any]:
        """The records without ticks seen before (other records pass untouched)."""
        out = []
        for rec in records:
            if type(rec) is Tick and self._seen_before(rec):
                self.dropped += 1
                continue
            out.append(rec)
        return out

    def _seen_before(self, tick: Tick) -> bool:
        entry = self._seen.get(tick.asset)
        if entry is None:
            entry = self._seen[tick.asset] = (set(), deque())
        seen, order = entry
        key = (tick.ts, tick.price)
        if key in seen:
            return True
        seen.add(key)
        order.append(key)
        if len(order) > self.per_asset:
            seen.discard(order.popleft())
        return False
