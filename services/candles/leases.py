"""Partition leases: which candle worker folds which tick partition.

One key per partition holds the owner's token with an expiry (``SET NX PX``, renewed by the owner).
Workers also list themselves in a sorted set (score = last seen), so each can work out its fair
share: with ``n`` live workers, the worker ranked ``i`` takes ``P // n`` partitions, plus one if
``i < P % n``. A worker above its share gives partitions back (between batches, after its
checkpoint is written); one below it takes free ones. A dead worker's leases simply expire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis

from services.bus.keys import Keys

_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def fair_share(partitions: int, members: list[str], me: str) -> int:
    """How many partitions the worker ``me`` should own among ``members`` (sorted by name)."""
    if me not in members:
        members = sorted([*members, me])
    n = len(members)
    i = members.index(me)
    return partitions // n + (1 if i < partitions % n else 0)


@dataclass
class Leases:
    """The partitions this worker owns, kept by :meth:`round` (call it every ``lease / 3`` s)."""

    client: redis.Redis
    keys: Keys
    token: str
    partitions: int
    lease_s: float
    owned: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)

    def key(self, p: int) -> str:
        """The lease key of partition ``p``."""
        return self.keys.private("candles", "lease", p)

    def members_key(self) -> str:
        """Sorted set of live workers (score = last seen, ms)."""
        return self.keys.private("candles", "workers")

    def holds(self, p: int) -> bool:
        """True while this worker believes it owns ``p``."""
        return p in self.owned

    def round(self) -> tuple[list[int], list[int]]:
        """Renew, give back and take leases; returns (partitions gained, partitions given up or lost)."""
        now_ms = int(time.time() * 1000)
        lease_ms = int(self.lease_s * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.members_key(), {self.token: now_ms})
        # A member that has not been seen for most of a lease is gone: its leases expire soon too.
        pipe.zremrangebyscore(self.members_key(), "-inf", now_ms - int(lease_ms * 0.6))
        pipe.zrange(self.members_key(), 0, -1)
        mine = sorted(self.owned)
        for p in mine:
            self._acquire(keys=[self.key(p)], args=[self.token, lease_ms], client=pipe)
        res = pipe.execute()
        members = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in res[2])
        lost = [p for p, ok in zip(mine, res[3:], strict=True) if not int(ok)]
        self.owned.difference_update(lost)
        share = fair_share(self.partitions, members, self.token)
        gained: list[int] = []
        if len(self.owned) > share:
            extra = sorted(self.owned)[share:]
            for p in extra:
                self._release(keys=[self.key(p)], args=[self.token])
                self.owned.discard(p)
            lost.extend(extra)
        elif len(self.owned) < share:
            start = members.index(self.token) if self.token in members else 0
            order = [
                (start * max(1, self.partitions // max(1, len(members))) + k) % self.partitions
                for k in range(self.partitions)
            ]
            for p in order:
                if len(self.owned) >= share:
                    break
                if p in self.owned:
                    continue
                if int(self._acquire(keys=[self.key(p)], args=[self.token, lease_ms])):
                    self.owned.add(p)
                    gained.append(p)
        return gained, lost

    def forget(self) -> None:
        """Drop what we believe we own without touching Redis (after an outage, re-check next round)."""
        self.owned.clear()

    def release_all(self) -> None:
        """Give every partition back at once (clean stop), so another worker need not wait."""
        for p in sorted(self.owned):
            self._release(keys=[self.key(p)], args=[self.token])
        self.owned.clear()
        self.client.zrem(self.members_key(), self.token)
