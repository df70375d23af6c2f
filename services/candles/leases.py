"""Partition leases: which candle worker folds which tick partition.

One key per partition holds its owner with an expiry (``SET PX``, renewed by the owner). The owner
is written ``{instance}#{epoch}``: the worker's stable name (``QF_INSTANCE``) and a number the
process draws once at start from a counter kept per name (``INCR``). A worker that comes back
under the same name draws a higher number, and a higher number of the same name may take a lease
at once, without waiting for it to expire: that is the restarted worker taking back its own
partitions. The old number is fenced by it: its renewals and its commits compare the whole value,
so they fail from that moment, and when it sees the counter has moved past it, it stops. A lease
held under another name is only ever taken once it has expired.

Workers also list themselves by name in a sorted set (score = last seen), so each can work out
its fair share: with ``n`` live workers, the worker ranked ``i`` takes ``P // n`` partitions, plus
one if ``i < P % n``. A worker above its share gives partitions back (between batches, after its
checkpoint is written); one below it takes its own old leases first, then free ones. Listing by
name means a restarted worker takes the place of the one it replaces, not a second place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import redis

from quantumflux.bus.ids import text
from quantumflux.bus.keys import Keys

# Take or renew a lease: free, ours, or held by an older process of our own name.
_ACQUIRE = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if v then
  local name, epoch = string.match(v, '^(.*)#(%d+)$')
  if name ~= ARGV[3] or tonumber(epoch) >= tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# The epoch counter of a name outlives any lease by far; it is refreshed every round.
EPOCH_TTL_S = 7 * 86400


def owner_of(value: str) -> tuple[str, int] | None:
    """``(instance, epoch)`` of a lease value, or None when it is not in that form."""
    name, sep, epoch = value.rpartition("#")
    if not sep or not epoch.isdigit():
        return None
    return name, int(epoch)


def fair_share(partitions: int, members: list[str], me: str) -> int:
    """How many partitions the worker ``me`` should own among ``members`` (sorted by name)."""
    if me not in members:
        members = sorted([*members, me])
    n = len(members)
    i = members.index(me)
    return partitions // n + (1 if i < partitions % n else 0)


def claim_order(holders: list[str | None], instance: str, epoch: int, start: int) -> list[int]:
    """Partitions worth trying to take, best first: our name's leases, then free ones.

    ``holders`` is each partition's lease value (None when free); ``start`` is where this
    worker's run of free partitions begins, so workers ranked apart try different ones first.
    """
    mine: list[int] = []
    free: list[int] = []
    n = len(holders)
    for k in range(n):
        p = (start + k) % n
        value = holders[p]
        if value is None:
            free.append(p)
            continue
        owner = owner_of(value)
        # Our own current value too: after an outage we forget what we held, not the leases.
        if owner is not None and owner[0] == instance and owner[1] <= epoch:
            mine.append(p)
    return mine + free


@dataclass
class Leases:
    """The partitions this worker owns, kept by :meth:`round` (call it every ``lease / 3`` s)."""

    client: redis.Redis
    keys: Keys
    instance: str
    partitions: int
    lease_s: float
    owned: set[int] = field(default_factory=set)
    epoch: int = 0  # drawn on the first round
    fenced: bool = False  # a newer process of the same name has taken over

    def __post_init__(self) -> None:
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)

    @property
    def token(self) -> str:
        """The value this process writes into the leases it holds."""
        return f"{self.instance}#{self.epoch}"

    def key(self, p: int) -> str:
        """The lease key of partition ``p``."""
        return self.keys.private("candles", "lease", p)

    def members_key(self) -> str:
        """Sorted set of live workers by name (score = last seen, ms)."""
        return self.keys.private("candles", "workers")

    def epoch_key(self) -> str:
        """Counter of the processes that have run under this worker's name."""
        return self.keys.private("candles", "epoch", self.instance)

    def holds(self, p: int) -> bool:
        """True while this worker believes it owns ``p``."""
        return p in self.owned

    def join(self) -> int:
        """Draw this process's epoch: from now on older processes of the same name are fenced."""
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(self.epoch_key())
        pipe.expire(self.epoch_key(), EPOCH_TTL_S)
        self.epoch = int(pipe.execute()[0])
        return self.epoch

    def round(self) -> tuple[list[int], list[int]]:
        """Renew, give back and take leases; returns (partitions gained, partitions given up or lost)."""
        if not self.epoch:
            self.join()
        now_ms = int(time.time() * 1000)
        lease_ms = int(self.lease_s * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.epoch_key())
        pipe.expire(self.epoch_key(), EPOCH_TTL_S)
        pipe.zadd(self.members_key(), {self.instance: now_ms})
        # A member that has not been seen for most of a lease is gone: its leases expire soon too.
        pipe.zremrangebyscore(self.members_key(), "-inf", now_ms - int(lease_ms * 0.6))
        pipe.zrange(self.members_key(), 0, -1)
        mine = sorted(self.owned)
        for p in mine:
            self._acquire(keys=[self.key(p)], args=self._args(lease_ms), client=pipe)
        res = pipe.execute()
        lost = [p for p, ok in zip(mine, res[5:], strict=True) if not int(ok)]
        self.owned.difference_update(lost)
        if int(res[0] or 0) > self.epoch:
            return [], lost + self._fence()
        members = sorted(text(m) for m in res[4])
        share = fair_share(self.partitions, members, self.instance)
        if len(self.owned) > share:
            return [], lost + self._give_back(share)
        if len(self.owned) < share:
            return self._take(share, members, lease_ms), lost
        return [], lost

    def _args(self, lease_ms: int) -> list[str | int]:
        return [self.token, lease_ms, self.instance, self.epoch]

    def _fence(self) -> list[int]:
        # Another process runs under our name now and may already hold our partitions: stop
        # writing at once. Our own leases are released so nothing waits on them.
        self.fenced = True
        given = sorted(self.owned)
        for p in given:
            self._release(keys=[self.key(p)], args=[self.token])
        self.owned.clear()
        return given

    def _give_back(self, share: int) -> list[int]:
        extra = sorted(self.owned)[share:]
        for p in extra:
            self._release(keys=[self.key(p)], args=[self.token])
            self.owned.discard(p)
        return extra

    def _take(self, share: int, members: list[str], lease_ms: int) -> list[int]:
        rank = members.index(self.instance) if self.instance in members else 0
        start = rank * max(1, self.partitions // max(1, len(members)))
        values = self.client.mget([self.key(p) for p in range(self.partitions)])
        holders = [None if v is None else text(v) for v in values]
        gained: list[int] = []
        for p in claim_order(holders, self.instance, self.epoch, start):
            if len(self.owned) >= share:
                break
            if p not in self.owned and int(self._acquire(keys=[self.key(p)], args=self._args(lease_ms))):
                self.owned.add(p)
                gained.append(p)
        return gained

    def forget(self) -> None:
        """Drop what we believe we own without touching Redis (after an outage, re-check next round)."""
        self.owned.clear()

    def release_all(self) -> None:
        """Give every partition back at once (clean stop), so another worker need not wait."""
        for p in sorted(self.owned):
            self._release(keys=[self.key(p)], args=[self.token])
        self.owned.clear()
        if not self.fenced:  # a fenced process's name belongs to its successor
            self.client.zrem(self.members_key(), self.instance)
