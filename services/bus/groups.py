"""Consumer-group reading for the blocking stream workers (sync client).

At-least-once: an entry stays pending in the group until :meth:`ConsumerGroup.ack`. After a crash a
worker first re-reads its own pending entries (:meth:`pending`), and live workers take over a dead
consumer's entries with :meth:`claim_stale` (XAUTOCLAIM).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.exceptions import ResponseError

from quantumflux.bus.ids import text
from quantumflux.bus.records import Record, RecordError, decode_fields


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: which stream, its id, its raw fields."""

    stream: str
    id: str
    fields: dict[bytes, bytes]


def _entries(resp: object) -> list[Entry]:
    out: list[Entry] = []
    if not resp:
        return out
    items: Any = resp.items() if isinstance(resp, dict) else resp
    for stream, rows in items:
        if (
            rows
            and isinstance(rows[0], list)
            and len(rows) == 1
            and rows[0]
            and isinstance(rows[0][0], tuple)
        ):
            rows = rows[0]  # RESP3 shape
        for eid, fields in rows:
            if fields is None:  # entry deleted while pending
                continue
            out.append(Entry(text(stream), text(eid), fields))
    return out


@dataclass
class ConsumerGroup:
    """One consumer in one group over a set of streams."""

    client: redis.Redis
    group: str
    consumer: str
    streams: list[str]
    start_id: str = "0"
    errors: Counter[str] = field(default_factory=Counter)

    def ensure(self, streams: Iterable[str] | None = None) -> None:
        """Create the group on each stream (and the stream) if missing; safe to call again."""
        for key in streams if streams is not None else self.streams:
            try:
                self.client.xgroup_create(key, self.group, id=self.start_id, mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def read(
        self, count: int = 1000, block_ms: int | None = 1000, streams: Sequence[str] | None = None
    ) -> list[Entry]:
        """New entries not yet delivered to any consumer of the group (blocks up to ``block_ms``)."""
        return self._xreadgroup(">", count, block_ms, streams)

    def pending(self, count: int = 1000, streams: Sequence[str] | None = None) -> list[Entry]:
        """This consumer's own entries delivered but not acknowledged (re-read after a restart)."""
        return self._xreadgroup("0", count, None, streams)

    def _xreadgroup(
        self, start: str, count: int, block_ms: int | None, streams: Sequence[str] | None
    ) -> list[Entry]:
        # start ">": never delivered; "0": this consumer's own pending entries.
        keys = list(streams if streams is not None else self.streams)
        if not keys:
            return []
        try:
            resp = self.client.xreadgroup(
                self.group, self.consumer, {k: start for k in keys}, count=count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure(keys)  # the stream or group went away (trimmed, deleted): make it again
            return []
        return _entries(resp)

    def ack(self, entries: Iterable[Entry]) -> int:
        """Acknowledge entries (pipelined, one XACK per stream); returns how many were acked."""
        by_stream: dict[str, list[str]] = {}
        for e in entries:
            by_stream.setdefault(e.stream, []).append(e.id)
        if not by_stream:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for key, ids in by_stream.items():
            pipe.xack(key, self.group, *ids)
        return int(sum(int(n) for n in pipe.execute()))

    def claim_stale(
        self, min_idle_ms: int, count: int = 1000, streams: Sequence[str] | None = None
    ) -> list[Entry]:
        """Take over entries another consumer left pending for at least ``min_idle_ms`` (XAUTOCLAIM)."""
        out: list[Entry] = []
        for key in streams if streams is not None else self.streams:
            start = "0-0"
            while True:
                try:
                    resp = self.client.xautoclaim(
                        key, self.group, self.consumer, min_idle_time=min_idle_ms, start_id=start, count=count
                    )
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    self.ensure([key])
                    break
                nxt, rows = text(resp[0]), resp[1]
                out.extend(Entry(key, text(eid), f) for eid, f in rows if f is not None)
                if nxt == "0-0" or not rows:
                    break
                start = nxt
        return out

    def decode(self, entries: Iterable[Entry]) -> Iterator[tuple[Entry, Record]]:
        """Decode entries; a malformed one is counted in :attr:`errors` by kind and skipped."""
        for e in entries:
            try:
                yield e, decode_fields(e.fields)
            except RecordError as exc:
                self.errors[exc.kind] += 1
