"""One thread that writes decoded records to Redis, and holds them while Redis is away.

The capture side (trio) calls :meth:`Publisher.put` for every record; that only appends to a
bounded in-memory buffer and wakes the thread. The thread sends what is waiting in pipelined
XADDs (sync client, the fastest path measured). When Redis is down the records stay in the
buffer, in order, and are sent when it is back; past the bound the oldest are dropped, counted
and reported. A send that failed half-way is checked against the streams' last entries before it
is sent again, so an outage neither loses nor doubles a record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.connection import RETRIABLE
from quantumflux.bus.health import EVENTS_MAXLEN
from quantumflux.bus.keys import Keys, partition_of
from quantumflux.bus.records import CaptureMark, Event, HistoryBatch, Payout, Record, Tick, pack
from quantumflux.bus.streams import groups, trim
from quantumflux.ingest.config import IngestSettings

log = logging.getLogger("qf.ingest.publisher")

# (stream key, packed record)
Item = tuple[str, bytes]
ReportCallback = Callable[[str, str, dict[str, Any]], None]


def plain_client(url: str) -> redis.Redis:
    """A sync client without redis-py's own retries: a pipeline retried blindly could double entries."""
    return redis.Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=1.0,
        socket_timeout=5.0,
        socket_keepalive=True,
    )


class Publisher:
    """Bounded buffer plus publisher thread; ``report(state, message, extra)`` hears about outages."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        report: ReportCallback | None = None,
        block_when_full: bool = False,
        client: redis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.partitions = settings.partitions
        self.capacity = settings.ingest_buffer
        self.batch = settings.publish_batch
        self.block_when_full = block_when_full
        self.report = report or (lambda _s, _m, _e: None)
        self.client = client or plain_client(settings.redis_url)
        self._events_key = self.keys.events()
        self._payouts_key = self.keys.payouts()
        self._tick_keys = [self.keys.ticks(p) for p in range(self.partitions)]
        self._asset_keys: dict[str, str] = {}
        self._idle = False  # the publisher thread is waiting for records
        self._inflight = 0  # records taken from the buffer and being sent
        self._buf: deque[Item] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ingest-publisher", daemon=True)
        self._suspect = False  # the last send failed half-way: check stream tails before resending
        # counters (read by the heartbeat)
        self.published = 0
        self.dropped = 0
        self.unpackable = 0  # records the bus could not carry, left out
        self.redis_up = True
        self.outages = 0
        self.capped = 0
        self.deduplicated = 0
        self.waits_for_readers = 0
        self._next_lag_check = 0.0
        self._lag_checked_at = 0

    # ---- producer side (any thread) ----------------------------------------------------------

    def key_of(self, record: Record) -> str:
        """The stream a record goes to: its asset's tick partition, the payouts stream or the events stream."""
        if type(record) is Tick or type(record) is HistoryBatch:
            key = self._asset_keys.get(record.asset)
            if key is None:
                key = self._tick_keys[partition_of(record.asset, self.partitions)]
                if len(self._asset_keys) < 100_000:
                    self._asset_keys[record.asset] = key
            return key
        if type(record) is Payout:
            return self._payouts_key
        return self._events_key

    def put(self, record: Record) -> None:
        """Queue one record for Redis (never blocks unless ``block_when_full``)."""
        self.put_many((record,))

    def put_many(self, records: Iterable[Record]) -> None:
        """Queue records in order."""
        key_of = self.key_of
        try:
            items = [(key_of(r), pack(r)) for r in records]
        except (OverflowError, TypeError, ValueError):
            # A record the bus cannot carry (a number too big for msgpack, say) is counted and
            # left out; it must never stop the capture.
            items = []
            for r in records:
                try:
                    items.append((key_of(r), pack(r)))
                except (OverflowError, TypeError, ValueError):
                    self.unpackable += 1
        self._enqueue(items)

    def put_capture(self, mark: CaptureMark) -> None:
        """Queue a capture mark on every tick stream, in order with the records around it."""
        data = pack(mark)
        self._enqueue([(key, data) for key in self._tick_keys])

    def _enqueue(self, items: list[Item]) -> None:
        if not items:
            return
        buf = self._buf
        with self._cond:
            if len(buf) + len(items) <= self.capacity:
                buf.extend(items)
            else:
                for item in items:
                    if len(buf) >= self.capacity:
                        if self.block_when_full and threading.current_thread() is not self._thread:
                            while len(buf) >= self.capacity and not self._stopping:
                                self._cond.wait(0.5)
                        else:
                            buf.popleft()
                            self.dropped += 1
                    buf.append(item)
            if self._idle:
                self._cond.notify_all()

    @property
    def buffered(self) -> int:
        """Records waiting to be sent."""
        return len(self._buf)

    def counters(self) -> dict[str, Any]:
        """What the heartbeat shows."""
        return {
            "published": self.published,
            "buffered": self.buffered,
            "dropped": self.dropped,
            "unpackable": self.unpackable,
            "redis_up": self.redis_up,
            "redis_outages": self.outages,
            "capped": self.capped,
            "waits_for_readers": self.waits_for_readers,
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Publisher:
        """Start the publisher thread."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is waiting (for up to ``timeout`` seconds if Redis answers), then stop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._buf and self.redis_up and time.monotonic() < deadline:
                self._cond.wait(0.05)
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=max(0.5, deadline - time.monotonic()))
        if self._buf:
            log.warning("stopped with %d records not sent (Redis was not reachable)", len(self._buf))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is in Redis; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._buf or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # ---- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        next_trim = time.monotonic() + self.settings.trim_interval
        while True:
            if self.block_when_full and self.settings.replay_max_lag:
                self._wait_for_readers()
            with self._cond:
                while not self._buf and not self._stopping:
                    self._idle = True
                    woke = self._cond.wait(timeout=max(0.0, next_trim - time.monotonic()))
                    self._idle = False
                    if not woke:
                        break
                if self._stopping:
                    return
                n = min(self.batch, len(self._buf))
                batch = [self._buf.popleft() for _ in range(n)]
                self._inflight = n
                if n:
                    self._cond.notify_all()  # room for a blocked producer
            try:
                if batch:
                    self._send(batch)
                if time.monotonic() >= next_trim:
                    self._trim()
                    next_trim = time.monotonic() + self.settings.trim_interval
            except RETRIABLE as exc:
                self._suspect = True
                with self._cond:
                    # Back in front, in order; the bound still holds (the oldest go first).
                    self._buf.extendleft(reversed(batch))
                    self._inflight = 0
                    while len(self._buf) > self.capacity:
                        self._buf.popleft()
                        self.dropped += 1
                self._outage(exc)
            else:
                with self._cond:
                    self._inflight = 0
                    self._cond.notify_all()

    def _reader_lag(self) -> int:
        worst = 0
        for key in self._tick_keys:
            for g in groups(self.client, key):
                worst = max(worst, g.lag or 0)
        return worst

    def _wait_for_readers(self) -> None:
        """A replay slows down rather than outrun the stream's readers (consumer groups)."""
        now = time.monotonic()
        step = max(1, self.settings.replay_max_lag // 4)
        if now < self._next_lag_check and self.published - self._lag_checked_at < step:
            return
        self._next_lag_check = now + 0.5
        self._lag_checked_at = self.published
        said = False
        try:
            while not self._stopping and self._reader_lag() > self.settings.replay_max_lag:
                if not said:
                    log.info(
                        "replay waits: a reader is more than %d ticks behind", self.settings.replay_max_lag
                    )
                    self.waits_for_readers += 1
                    said = True
                with self._cond:
                    self._cond.wait(0.2)
        except RETRIABLE:
            pass  # the send will notice and handle the outage

    def _send(self, batch: list[Item]) -> None:
        if self._suspect:
            batch = self._skip_already_written(batch)
            self._suspect = False
        pipe = self.client.pipeline(transaction=False)
        capped = (self._events_key, self._payouts_key)
        command: Any = pipe.execute_command
        for key, data in batch:
            # Events and payout changes are few and read from their tail: a cap keeps them small.
            if key in capped:
                command("XADD", key, "MAXLEN", "~", EVENTS_MAXLEN, "*", "d", data)
            else:
                command("XADD", key, "*", "d", data)
        pipe.execute()
        self.published += len(batch)

    def _skip_already_written(self, batch: list[Item]) -> list[Item]:
        # After a failed pipeline some entries may be in Redis: find, per stream, the last one
        # whose bytes equal the stream's newest entry and skip everything up to it.
        skip_upto: dict[str, int] = {}
        for key in {k for k, _ in batch}:
            last: Any = self.client.xrevrange(key, count=1)
            if not last:
                continue
            data = (last[0][1] or {}).get(b"d")
            for i in range(len(batch) - 1, -1, -1):
                if batch[i][0] == key and batch[i][1] == data:
                    skip_upto[key] = i
                    break
        if not skip_upto:
            return batch
        out = [item for i, item in enumerate(batch) if i > skip_upto.get(item[0], -1)]
        self.deduplicated += len(batch) - len(out)
        return out

    def _outage(self, first: BaseException) -> None:
        """Wait for Redis with backoff, saying what happens to the data meanwhile."""
        self.redis_up = False
        self.outages += 1
        since = time.monotonic()
        msg = f"Redis is not reachable ({first}); keeping up to {self.capacity} records in memory meanwhile"
        log.warning(msg)
        self.report("degraded", msg, self.counters())
        backoff = Backoff(initial=0.2, cap=self.settings.redis_retry_max)
        next_note = since + 10.0
        while not self._stopping:
            try:
                self.client.ping()
                break
            except RETRIABLE:
                if time.monotonic() >= next_note:
                    log.warning(
                        "Redis still away after %.0f s: %d records waiting, %d oldest dropped so far",
                        time.monotonic() - since,
                        self.buffered,
                        self.dropped,
                    )
                    next_note = time.monotonic() + 10.0
                with self._cond:
                    self._cond.wait(backoff.next_delay())
        if self._stopping:
            return
        self.redis_up = True
        down = time.monotonic() - since
        lost = f", {self.dropped} oldest were dropped because the buffer was full" if self.dropped else ""
        msg = f"Redis is back after {down:.1f} s; sending the {self.buffered} records kept meanwhile{lost}"
        log.warning(msg)
        self.report("recovered", msg, {**self.counters(), "down_seconds": round(down, 3)})

    def _trim(self) -> None:
        for key in self._tick_keys:
            res = trim(self.client, key, self.settings.ticks_maxlen, keep_min=self.settings.ticks_keep)
            if res.capped:
                self.capped += res.capped
                msg = (
                    f"{key} reached its cap of {self.settings.ticks_maxlen} entries: "
                    f"{res.capped} ticks removed that a reader had not acknowledged yet"
                )
                log.error(msg)
                self.report("degraded", msg, self.counters())


def event_now(type_: str, **data: Any) -> Event:
    """An event stamped with the current time."""
    return Event(type=type_, ts=time.time(), data=data)
