"""Readers of the bus for the gateway: one per candle stream, one each for events, signals, paper
trades and orders, and a poller for Redis health, heartbeats, the trader's status and what can be
streamed.

Every reader uses plain ``XREAD`` (no consumer group): each gateway sees every update. What it
decodes goes into the :class:`~quantumflux.gateway.model.ReadModel`, then to the :class:`Sink`
(the live feed to browsers). A reader that loses Redis reports it, waits with backoff and
resumes from the last id it handled; if Redis came back empty (its ids start again), it starts
over from the beginning of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import redis.asyncio as aioredis

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.connection import RETRIABLE
from quantumflux.bus.health import decode_heartbeat
from quantumflux.bus.ids import id_tuple, text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import (
    Candle,
    Event,
    Order,
    PaperContract,
    RecordError,
    Signal,
    decode_fields,
    unpack,
)
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.model import ReadModel, sort_keys
from quantumflux.gateway.rooms import Stream
from quantumflux.gateway.trades import paper_payload
from quantumflux.trader.store import TraderKeys

log = logging.getLogger("qf.gateway.relay")

READ_COUNT = 500
BLOCK_MS = 1000
SEED_EVENTS = 2000
SEED_CANDLES = 500
SEED_SIGNALS = 2000
SEED_ORDERS = 5000

Take = Callable[[str, dict[bytes, bytes], bool], None]


class Sink(Protocol):
    """What the readers hand their news to (the live feed to browsers)."""

    def on_candle(self, c: Candle) -> None: ...
    def on_event(self, event: Event) -> None: ...
    def on_status(self, status: dict[str, Any]) -> None: ...
    def on_signal(self, stream: Stream, payload: dict[str, Any]) -> None: ...
    def on_paper(self, payload: dict[str, Any]) -> None: ...
    def on_order(self, payload: dict[str, Any]) -> None: ...
    def on_trading(self, view: dict[str, Any]) -> None: ...
    async def on_redis_change(self, ok: bool) -> None: ...


class BusReader:
    """Follows the gateway's streams for ever, riding over Redis outages."""

    def __init__(
        self, settings: GatewaySettings, redis: aioredis.Redis, keys: Keys, model: ReadModel, sink: Sink
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = keys
        self.model = model
        self.sink = sink
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the poller and the readers of events, signals, paper trades and orders (candle
        readers follow discovery)."""
        loops = {
            "gateway-poll": self._poll_loop(),
            "gateway-events": self._follow(self.keys.events(), self._take_event, seed=SEED_EVENTS),
            "gateway-signals": self._follow(self.keys.signals(), self._take_signal, seed=SEED_SIGNALS),
            "gateway-paper": self._follow(self.keys.paper(), self._take_paper),
            "gateway-orders": self._follow(self.keys.orders(), self._take_order, seed=SEED_ORDERS),
        }
        self._tasks += [asyncio.create_task(loop, name=name) for name, loop in loops.items()]

    async def stop(self) -> None:
        """Stop every reader and close the connection."""
        tasks = self._tasks + list(self._readers.values())
        for t in tasks:
            t.cancel()
        if tasks:
            # A reader cancelled inside a blocking XREAD may take a while to let go; do not wait on it.
            await asyncio.wait(tasks, timeout=0.5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.redis.aclose(), 0.5)

    # --- Redis health, heartbeats, discovery -------------------------------------------------

    async def _set_redis(self, ok: bool, why: str = "") -> None:
        if not self.model.set_redis(ok):
            return
        if ok and self.model.counters["redis_errors"]:
            log.info("Redis answers again; the relay carries on.")
        elif ok:
            log.info("Connected to Redis; relaying candles and status.")
        else:
            log.warning("Redis does not answer (%s); browsers stay connected and the relay retries.", why)
        self._publish_status()
        await self.sink.on_redis_change(ok)

    def _publish_status(self, heartbeats: list[dict[str, Any]] | None = None) -> None:
        status = self.model.refresh_status(heartbeats)
        if status is not None:
            self.sink.on_status(status)

    async def _poll_loop(self) -> None:
        backoff = Backoff(initial=0.2, cap=self.settings.redis_retry_max)
        while True:
            try:
                await self.poll_once()
                backoff.reset()
                await asyncio.sleep(self.settings.gateway_poll_interval)
            except RETRIABLE as exc:
                await self._set_redis(False, str(exc))
                await asyncio.sleep(backoff.next_delay())

    async def poll_once(self) -> None:
        """Ping Redis, read heartbeats, find candle streams and assets; start readers for new streams."""
        await self.redis.ping()
        await self._set_redis(True)
        names = [
            text(raw) async for raw in self.redis.scan_iter(match=f"{self.settings.prefix}:*", count=1000)
        ]
        health, streams, assets = sort_keys(self.settings.prefix, names)
        beats = [decode_heartbeat(raw) for raw in await self.redis.mget(health)] if health else []
        heartbeats = [hb for hb in beats if hb is not None]
        self.model.learn_bus(streams, assets, heartbeats)
        await self._poll_trading()
        for tf in self.model.catalog.timeframes:
            if tf not in self._readers:
                self._readers[tf] = asyncio.create_task(self._candles_loop(tf), name=f"gateway-candles-{tf}")
        self._publish_status(heartbeats)
        self.model.ready.set()

    async def _poll_trading(self) -> None:
        """The trader's status as it last kept it (it expires when the trader stops)."""
        raw: Any = await self.redis.get(TraderKeys(self.keys).status)
        try:
            status = unpack(raw) if raw is not None else None
        except RecordError:
            self.model.count_malformed()
            return
        view = self.model.take_trading(status if isinstance(status, dict) else None)
        if view is not None:
            self.sink.on_trading(view)

    # --- what each stream carries ------------------------------------------------------------

    async def _candles_loop(self, tf: int) -> None:
        await self._follow(self.keys.candles(tf), self._take_candle, seed=SEED_CANDLES)

    def _record(self, fields: dict[bytes, bytes], kind: type[Any]) -> Any:
        try:
            rec = decode_fields(fields)
        except RecordError:
            rec = None
        if not isinstance(rec, kind):
            self.model.count_malformed()
            return None
        return rec

    def _take_candle(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        rec = self._record(fields, Candle)
        if rec is None:
            return
        self.model.take_candle(rec, eid)
        if relay:
            self.model.counters["relayed"] += 1
            self.sink.on_candle(rec)

    def _take_event(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        rec = self._record(fields, Event)
        if rec is None:
            return
        if not self.model.take_event(rec):
            self.model.count_malformed()
            return
        if relay and rec.type == "chrome_status":
            self._publish_status()
        if relay:
            self.sink.on_event(rec)

    def _take_signal(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        rec = self._record(fields, Signal)
        if rec is None:
            return
        stream, payload = self.model.take_signal(rec)
        if relay:
            self.model.counters["relayed"] += 1
            self.sink.on_signal(stream, payload)

    def _take_paper(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        rec = self._record(fields, PaperContract)
        if rec is not None and relay:
            self.model.counters["relayed"] += 1
            self.sink.on_paper(paper_payload(rec))

    def _take_order(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        rec = self._record(fields, Order)
        if rec is None:
            return
        payload = self.model.take_order(rec)
        if relay:
            self.model.counters["relayed"] += 1
            self.sink.on_order(payload)

    # --- following one stream ----------------------------------------------------------------

    async def _start_at(self, key: str, take: Take, seed: int) -> str:
        """Where a new reader starts: at the stream's end, having learnt (not relayed) its last
        ``seed`` entries."""
        entries = await self.redis.xrevrange(key, count=max(seed, 1))
        if seed:
            for eid, fields in reversed(entries):
                take(text(eid), fields, False)
        return text(entries[0][0]) if entries else "0-0"

    async def _resume_at(self, key: str, last: str) -> str:
        """Where to go on after an outage: from the start when Redis came back without the stream."""
        top = await self.redis.xrevrange(key, count=1)
        return "0-0" if not top or id_tuple(top[0][0]) < id_tuple(last) else last

    async def _follow(self, key: str, take: Take, seed: int = 0) -> None:
        """Follow one stream with plain XREAD, for ever, riding over Redis outages."""
        backoff = Backoff(initial=0.2, cap=self.settings.redis_retry_max)
        last: str | None = None
        lost = False
        while True:
            try:
                if last is None:
                    last = await self._start_at(key, take, seed)
                elif lost:
                    last = await self._resume_at(key, last)
                    lost = False
                resp = await self.redis.xread({key: last}, count=READ_COUNT, block=BLOCK_MS)
                backoff.reset()
                for _, entries in resp or ():
                    for eid, fields in entries:
                        last = text(eid)
                        take(last, fields, True)
            except RETRIABLE as exc:
                lost = True
                await self._set_redis(False, str(exc))
                await asyncio.sleep(backoff.next_delay())
