"""Readers of the bus for the gateway: one per candle stream, one for events, one for health.

Every reader uses plain ``XREAD`` (no consumer group): each gateway sees every update. A reader
that loses Redis reports it, waits with backoff and resumes from the last id it handled; if Redis
came back empty (its ids start again), it starts over from the beginning of the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgpack

from services.bus.backoff import Backoff
from services.bus.connection import RETRIABLE, connect_async
from services.bus.keys import Keys
from services.bus.records import Candle, Event, RecordError, decode, decode_fields, unpack
from services.gateway.config import GatewaySettings
from services.gateway.rooms import CandleBook, Catalog, Stream
from services.gateway.status import build_status, shape
from services.gateway.trades import Account, TradeShapeError, paper_payload, signal_payload

log = logging.getLogger("qf.gateway.relay")

READ_COUNT = 500
BLOCK_MS = 1000
SEED_EVENTS = 2000
SEED_CANDLES = 500
SEED_SIGNALS = 2000
RECENT_SIGNALS = 200  # per stream, sent after its history


class Sink(Protocol):
    """What the relay hands its news to (the Socket.IO hub)."""

    def on_candle(self, c: Candle, entry_id: str) -> None: ...
    def on_event(self, event: Event) -> None: ...
    def on_status(self, status: dict[str, Any]) -> None: ...
    def on_signal(self, stream: Stream, payload: dict[str, Any]) -> None: ...
    def on_paper(self, payload: dict[str, Any]) -> None: ...


def id_tuple(entry_id: str) -> tuple[int, int]:
    """A stream id ``"ms-seq"`` as numbers, for comparing."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _s(x: Any) -> str:
    return x.decode() if isinstance(x, bytes) else str(x)


class Relay:
    """Reads candles, events and heartbeats, and keeps what a browser may ask for."""

    def __init__(self, settings: GatewaySettings, sink: Sink) -> None:
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.sink = sink
        self.redis = connect_async(settings)
        self.catalog = Catalog()
        self.book = CandleBook()
        self.redis_ok = False
        self.status: dict[str, Any] = build_status(False, [], None)
        self.chrome: dict[str, Any] | None = None
        self.platform_state: dict[str, Any] | None = None
        self.counters = {"relayed": 0, "malformed": 0, "redis_errors": 0}
        self.lag = 0.0
        self._readers: dict[int, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._known_services: dict[str, dict[str, Any]] = {}
        self._heartbeats: list[dict[str, Any]] = []
        self.on_redis_change: Callable[[bool], Awaitable[None]] | None = None
        self.ready = asyncio.Event()  # set once the first look at the bus is done
        self.account = Account()
        self.signals: dict[Stream, deque[dict[str, Any]]] = {}

    async def start(self) -> None:
        """Start the health poller and the events reader (candle readers follow discovery)."""
        self._tasks.append(asyncio.create_task(self._poll_loop(), name="gateway-poll"))
        self._tasks.append(asyncio.create_task(self._events_loop(), name="gateway-events"))
        self._tasks.append(
            asyncio.create_task(
                self._follow(self.keys.signals(), self._take_signal, SEED_SIGNALS), name="gateway-signals"
            )
        )
        self._tasks.append(
            asyncio.create_task(self._follow(self.keys.paper(), self._take_paper, 0), name="gateway-paper")
        )

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
        if ok == self.redis_ok:
            return
        self.redis_ok = ok
        if ok and self.counters["redis_errors"]:
            log.info("Redis answers again; the relay carries on.")
        elif ok:
            log.info("Connected to Redis; relaying candles and status.")
        else:
            self.counters["redis_errors"] += 1
            log.warning("Redis does not answer (%s); browsers stay connected and the relay retries.", why)
        self._publish_status()
        if self.on_redis_change is not None:
            await self.on_redis_change(ok)

    def _publish_status(self, heartbeats: list[dict[str, Any]] | None = None) -> None:
        if heartbeats is not None:
            self._heartbeats = heartbeats
        status = build_status(self.redis_ok, self._heartbeats, self.chrome, self._known_services)
        self._known_services = {k: v for k, v in status["services"].items()}
        changed = shape(status) != shape(self.status)
        self.status = status
        if changed:
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
        health, streams, assets = [], set(), set()
        base = f"{self.settings.prefix}:"
        async for raw in self.redis.scan_iter(match=f"{base}*", count=1000):
            key = _s(raw)[len(base) :]
            kind, _, rest = key.partition(":")
            if kind == "health":
                health.append(_s(raw))
            elif kind == "candles" and rest.isdigit():
                streams.add(int(rest))
            elif kind == "series":
                asset, _, seconds = rest.rpartition(":")
                if asset and seconds.isdigit():
                    assets.add(asset)
        heartbeats = []
        if health:
            for raw in await self.redis.mget(health):
                if raw is None:
                    continue
                try:
                    hb = msgpack.unpackb(raw, raw=False)
                except Exception:
                    continue
                if isinstance(hb, dict):
                    heartbeats.append(hb)
        produced: set[int] = set()
        for hb in heartbeats:
            tfs = hb.get("timeframes") if hb.get("service") == "candles" else None
            if isinstance(tfs, list):
                produced |= {t for t in tfs if isinstance(t, int) and not isinstance(t, bool) and t > 0}
        self.catalog.produced = produced
        self.catalog.streams = streams
        self.catalog.seen |= assets
        for tf in self.catalog.timeframes:
            if tf not in self._readers:
                self._readers[tf] = asyncio.create_task(self._candles_loop(tf), name=f"gateway-candles-{tf}")
        self._publish_status(heartbeats)
        self.ready.set()

    async def wait_ready(self, timeout: float = 3.0) -> None:
        """Wait (a little) for the first discovery, so a request right after start is not refused."""
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout)

    # --- candle streams ----------------------------------------------------------------------

    async def _start_id(self, key: str) -> str:
        """Where a new reader starts: after the last entry, having learnt the recent ones."""
        entries = await self.redis.xrevrange(key, count=SEED_CANDLES)
        for eid, fields in reversed(entries):
            self._take_candle(_s(eid), fields, relay=False)
        return _s(entries[0][0]) if entries else "0-0"

    def _take_candle(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        try:
            rec = decode_fields(fields)
        except RecordError:
            self.counters["malformed"] += 1
            return
        if not isinstance(rec, Candle):
            self.counters["malformed"] += 1
            return
        self.catalog.seen.add(rec.asset)
        self.book.observe(rec)
        self.lag = max(0.0, time.time() - id_tuple(eid)[0] / 1000)
        if relay:
            self.counters["relayed"] += 1
            self.sink.on_candle(rec, eid)

    async def _candles_loop(self, tf: int) -> None:
        await self._follow(self.keys.candles(tf), self._take_candle, start=self._start_id)

    async def read_series(self, stream: Stream, limit: int) -> list[Candle]:
        """The last ``limit`` closed candles stored for a stream (oldest first)."""
        raw = await self.redis.zrange(self.keys.series(stream.asset, stream.tf), -limit, -1)
        out = []
        for member in raw:
            try:
                rec = decode(member)
            except RecordError:
                self.counters["malformed"] += 1
                continue
            if isinstance(rec, Candle) and rec.asset == stream.asset and rec.tf == stream.tf:
                out.append(rec)
        return out

    # --- events ------------------------------------------------------------------------------

    def _take_event(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        try:
            rec = decode_fields(fields)
        except RecordError:
            self.counters["malformed"] += 1
            return
        if not isinstance(rec, Event):
            self.counters["malformed"] += 1
            return
        data = rec.data
        if rec.type == "chrome_status":
            self.chrome = {**data, "ts": rec.ts}
            if relay:
                self._publish_status()
        elif rec.type == "platform_state":
            self.platform_state = {"asset": data.get("asset"), "period": data.get("period")}
        elif rec.type == "assets":
            self.catalog.set_assets(data.get("assets"))
        elif rec.type in ("deal", "deals", "balance") and not self.account.take(rec.type, data):
            self.counters["malformed"] += 1
            return
        if relay:
            self.sink.on_event(rec)

    async def _events_loop(self) -> None:
        await self._follow(self.keys.events(), self._take_event, seed=SEED_EVENTS)

    # --- signals and paper trades --------------------------------------------------------------

    def _unpack(self, fields: dict[bytes, bytes]) -> dict[str, Any] | None:
        raw = fields.get(b"d")
        try:
            if raw is None:
                raise RecordError("no_data", "no field d")
            return unpack(raw)
        except RecordError:
            self.counters["malformed"] += 1
            return None

    def _take_signal(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        entry = self._unpack(fields)
        if entry is None:
            return
        try:
            asset, tf, payload = signal_payload(entry)
        except TradeShapeError:
            self.counters["malformed"] += 1
            return
        stream = Stream(asset, tf)
        recent = self.signals.get(stream)
        if recent is None:
            recent = self.signals[stream] = deque(maxlen=RECENT_SIGNALS)
        recent.append(payload)
        if relay:
            self.counters["relayed"] += 1
            self.sink.on_signal(stream, payload)

    def _take_paper(self, eid: str, fields: dict[bytes, bytes], relay: bool = True) -> None:
        entry = self._unpack(fields)
        if entry is None:
            return
        try:
            payload = paper_payload(entry)
        except TradeShapeError:
            self.counters["malformed"] += 1
            return
        if relay:
            self.counters["relayed"] += 1
            self.sink.on_paper(payload)

    async def _follow(
        self,
        key: str,
        take: Callable[..., None],
        seed: int = 0,
        start: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        """Follow one stream with plain XREAD, for ever, riding over Redis outages.

        It starts where ``start`` says, else at the stream's end after learning (not relaying)
        its last ``seed`` entries. When Redis comes back without the stream (a restart that lost
        it), it reads again from the beginning.
        """
        backoff = Backoff(initial=0.2, cap=self.settings.redis_retry_max)
        last: str | None = None
        lost = False
        while True:
            try:
                if last is None and start is not None:
                    last = await start(key)
                elif last is None:
                    entries = await self.redis.xrevrange(key, count=max(seed, 1))
                    if seed:
                        for eid, fields in reversed(entries):
                            take(_s(eid), fields, relay=False)
                    last = _s(entries[0][0]) if entries else "0-0"
                elif lost:
                    top = await self.redis.xrevrange(key, count=1)
                    if not top or id_tuple(_s(top[0][0])) < id_tuple(last):
                        last = "0-0"
                    lost = False
                resp = await self.redis.xread({key: last}, count=READ_COUNT, block=BLOCK_MS)
                backoff.reset()
                for _, entries in resp or ():
                    for eid, fields in entries:
                        last = _s(eid)
                        take(last, fields)
            except RETRIABLE as exc:
                lost = True
                await self._set_redis(False, str(exc))
                await asyncio.sleep(backoff.next_delay())

    async def recent(self, key: str, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` maps of a stream, oldest first (malformed ones skipped)."""
        entries = await self.redis.xrevrange(key, count=count)
        out = []
        for _, fields in reversed(entries):
            entry = self._unpack(fields)
            if entry is not None:
                out.append(entry)
        return out
