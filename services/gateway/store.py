"""What the gateway asks Redis for on demand: stored history, recent entries, a ping, its own news.

A thin shell over the asyncio Redis client; entries it cannot read are counted in the read model
and skipped.
"""

from __future__ import annotations

from typing import cast

import redis.asyncio as aioredis

from quantumflux.bus.connection import RETRIABLE
from quantumflux.bus.health import EVENTS_MAXLEN, status_event
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, Record, RecordError, decode, decode_fields, pack
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.rooms import Stream


class BusStore:
    """Reads of stored candles and recent entries, and the gateway's own status events."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, model: ReadModel, instance: str) -> None:
        self.redis = redis
        self.keys = keys
        self.model = model
        self.instance = instance

    async def ping(self) -> None:
        """Raise one of ``RETRIABLE`` when Redis does not answer."""
        await self.redis.ping()

    async def read_series(self, stream: Stream, limit: int) -> list[Candle]:
        """The last ``limit`` closed candles stored for a stream (oldest first)."""
        raw = await self.redis.zrange(self.keys.series(stream.asset, stream.tf), -limit, -1)
        return self._candles(cast(list[bytes], raw), stream)

    async def read_series_before(self, stream: Stream, before: int, limit: int) -> list[Candle]:
        """The last ``limit`` closed candles stored for a stream that open before ``before`` (oldest first)."""
        key = self.keys.series(stream.asset, stream.tf)
        raw = await self.redis.zrevrangebyscore(key, f"({before}", "-inf", start=0, num=limit)
        return self._candles(list(reversed(cast(list[bytes], raw))), stream)

    def _candles(self, raw: list[bytes], stream: Stream) -> list[Candle]:
        out = []
        for member in raw:
            try:
                rec = decode(member)
            except RecordError:
                self.model.count_malformed()
                continue
            if isinstance(rec, Candle) and rec.asset == stream.asset and rec.tf == stream.tf:
                out.append(rec)
        return out

    async def recent(self, key: str, count: int) -> list[Record]:
        """The newest ``count`` records of a stream, oldest first (unreadable ones counted and skipped)."""
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrevrange(key, count=count))
        out = []
        for _, fields in reversed(entries):
            try:
                out.append(decode_fields(fields))
            except RecordError:
                self.model.count_malformed()
        return out

    async def announce(self, state: str, message: str) -> None:
        """Post the gateway's ``service_status``; a Redis that is away just misses it."""
        event = status_event("gateway", self.instance, state, message)
        try:
            await self.redis.xadd(
                self.keys.events(), {"d": pack(event)}, maxlen=EVENTS_MAXLEN, approximate=True
            )
        except RETRIABLE:
            pass
