"""The Socket.IO side: connected browsers, their streams, and one sender task per browser.

Every message for a browser goes through its :class:`~services.gateway.outbox.Outbox`, so the
order is kept (``stream_started``, ``history``, then ``candle_update``) and a slow browser only
slows itself: its forming updates are coalesced while its socket is backed up, and it is let go
with a reason when it stays too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from services.bus.connection import RETRIABLE
from services.bus.records import Candle, Event
from services.gateway.config import GatewaySettings
from services.gateway.metrics import Metrics
from services.gateway.outbox import Message, Outbox
from services.gateway.relay import Relay
from services.gateway.rooms import (
    Stream,
    StreamRequestError,
    candle_payload,
    follows_history,
    merge_history,
)

log = logging.getLogger("qf.gateway")

BACKLOG_WAIT = 0.005


def encode(event: str, data: Any) -> eio_packet.Packet:
    """A Socket.IO event as the Engine.IO packet that goes on the wire (encoded once, sent to many)."""
    pkt = sio_packet.Packet(sio_packet.EVENT, namespace="/", data=[event, data])
    return eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())


@dataclass(eq=False)
class Client:
    """One connected browser."""

    sid: str
    outbox: Outbox
    streams: set[Stream] = field(default_factory=set)
    pending: dict[Stream, list[Candle]] = field(default_factory=dict)
    # Per stream, the open time of the last closed candle its history held: the stored series can
    # be ahead of the relay, so live updates up to that time are already on the chart.
    history_closed: dict[Stream, int] = field(default_factory=dict)
    follow: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    leaving: bool = False


class Hub:
    """Socket.IO server, rooms and relay, tied together."""

    def __init__(self, settings: GatewaySettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=settings.origins(),
            ping_interval=10,
            ping_timeout=20,
            max_http_buffer_size=1_000_000,
        )
        self.relay = Relay(settings, self)
        self.relay.on_redis_change = self._redis_changed
        self.clients: dict[str, Client] = {}
        self.rooms: dict[Stream, set[str]] = {}
        self.backtests: Any = None  # set by the app: async callables for datasets and backtests
        self.on_recovered: Any = None  # set by the app: posts a service_status "recovered"
        self._register()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start reading the bus."""
        await self.relay.start()

    async def stop(self) -> None:
        """Stop the senders and the relay."""
        for c in list(self.clients.values()):
            if c.task is not None:
                c.task.cancel()
        await self.relay.stop()

    # --- sending -----------------------------------------------------------------------------

    def _put(self, client: Client, event: str, data: Any, coalesce: tuple[Any, ...] | None = None) -> None:
        self._put_packet(client, Message(event, encode(event, data), coalesce))

    def _put_packet(self, client: Client, msg: Message) -> None:
        if client.leaving:
            return
        before = client.outbox.counts.coalesced
        client.outbox.put(msg, time.monotonic())
        self.metrics.coalesced.inc(client.outbox.counts.coalesced - before)
        client.wake.set()
        self._check_slow(client)

    def _check_slow(self, client: Client) -> None:
        reason = client.outbox.verdict(time.monotonic())
        if reason is not None and not client.leaving:
            client.leaving = True
            asyncio.get_running_loop().create_task(self._let_go(client, reason))

    async def _let_go(self, client: Client, reason: str) -> None:
        dropped = client.outbox.clear()
        self.metrics.dropped.inc(dropped)
        self.metrics.slow_disconnects.inc()
        log.warning("Letting browser %s go: %s (%d messages not sent).", client.sid, reason, dropped)
        eio_sid = self.sio.manager.eio_sid_from_sid(client.sid, "/")
        with contextlib.suppress(Exception):
            if eio_sid is not None:
                await self.sio.eio.send_packet(
                    eio_sid, encode("stream_error", {"code": "too_slow", "message": reason})
                )
        with contextlib.suppress(Exception):
            await self.sio.disconnect(client.sid)

    def _backlog(self, eio_sid: str) -> int | None:
        sock = self.sio.eio.sockets.get(eio_sid)
        if sock is None or sock.closed:
            return None
        return int(sock.queue.qsize())

    async def _sender(self, client: Client) -> None:
        """Hand this browser's messages to its socket, never more than the backlog allows."""
        limit = self.settings.gateway_send_backlog
        eio_sid = self.sio.manager.eio_sid_from_sid(client.sid, "/")
        while not client.leaving:
            await client.wake.wait()
            client.wake.clear()
            while len(client.outbox) and not client.leaving:
                backlog = self._backlog(eio_sid)
                if backlog is None:
                    return
                if backlog >= limit:
                    # The socket is behind: wait, and let the outbox coalesce meanwhile.
                    await asyncio.sleep(BACKLOG_WAIT)
                    self._check_slow(client)
                    continue
                msg = client.outbox.pop(time.monotonic())
                if msg is None:
                    break
                await self.sio.eio.send_packet(eio_sid, msg.body)

    # --- relay news --------------------------------------------------------------------------

    def on_candle(self, c: Candle, entry_id: str) -> None:
        """Route a candle update to the browsers watching its stream."""
        sids = self.rooms.get(Stream(c.asset, c.tf))
        if not sids:
            return
        key = ("c", c.asset, c.tf)
        msg = Message("candle_update", encode("candle_update", candle_payload(c)), None if c.closed else key)
        for sid in list(sids):
            client = self.clients.get(sid)
            if client is None:
                continue
            stream = Stream(c.asset, c.tf)
            pending = client.pending.get(stream)
            if pending is not None:
                pending.append(c)
                continue
            if not follows_history(c, client.history_closed.get(stream, -1)):
                continue
            if c.closed and client.outbox.supersede(key):
                self.metrics.coalesced.inc()
            self._put_packet(client, msg)
            self.metrics.deliveries.inc()

    def on_event(self, event: Event) -> None:
        """Relay platform events; move browsers that follow the platform."""
        data = event.data
        if event.type == "platform_state":
            payload = {"asset": data.get("asset"), "period": data.get("period")}
            for client in list(self.clients.values()):
                self._put(client, "platform_state", payload, ("platform_state",))
                if client.follow:
                    asyncio.get_running_loop().create_task(self._follow(client, payload))
        elif event.type == "assets":
            payload = {"assets": self.relay.catalog.asset_list()}
            for client in list(self.clients.values()):
                self._put(client, "assets", payload, ("assets",))
        elif event.type in ("deal", "deals", "balance"):
            msg = Message(event.type, encode(event.type, data), None)
            for client in list(self.clients.values()):
                self._put_packet(client, msg)
        elif event.type == "chrome_status" and data.get("state") == "reconnected":
            payload = {"reason": str(data.get("reason") or ""), "ts": event.ts}
            for client in list(self.clients.values()):
                self._put(client, "chrome_reconnected", payload)

    def on_signal(self, stream: Stream, payload: dict[str, Any]) -> None:
        """Relay a strategy signal to the browsers watching its stream."""
        msg = Message("signal", encode("signal", payload), None)
        for sid in list(self.rooms.get(stream, ())):
            client = self.clients.get(sid)
            # A browser still reading this stream's history gets the signal from the recent list.
            if client is not None and stream not in client.pending:
                self._put_packet(client, msg)

    def on_paper(self, payload: dict[str, Any]) -> None:
        """Relay a paper trade (opened, settled or voided) to every browser."""
        msg = Message("paper_trade", encode("paper_trade", payload), None)
        for client in list(self.clients.values()):
            self._put_packet(client, msg)

    def on_status(self, status: dict[str, Any]) -> None:
        """Tell every browser the new connection status."""
        self.metrics.redis_up.set(1 if status.get("redis") == "connected" else 0)
        for client in list(self.clients.values()):
            self._put(client, "connection_status", status, ("connection_status",))

    async def _redis_changed(self, ok: bool) -> None:
        if not ok or self.relay.counters["redis_errors"] == 0:
            return  # going down, or the first contact at start: nothing to recover
        if self.on_recovered is not None:
            await self.on_recovered()
        # Redis is back: what a browser watches may have moved on while it was away; resend history.
        for client in list(self.clients.values()):
            for stream in sorted(client.streams):
                await self._send_history(client, stream)

    # --- streams -----------------------------------------------------------------------------

    def _join(self, client: Client, stream: Stream) -> None:
        client.streams.add(stream)
        self.rooms.setdefault(stream, set()).add(client.sid)

    def _leave(self, client: Client, stream: Stream) -> None:
        client.streams.discard(stream)
        client.pending.pop(stream, None)
        client.history_closed.pop(stream, None)
        sids = self.rooms.get(stream)
        if sids is not None:
            sids.discard(client.sid)
            if not sids:
                del self.rooms[stream]
        client.outbox.supersede(("c", stream.asset, stream.tf))

    async def _send_history(self, client: Client, stream: Stream) -> None:
        """Send the history of a stream, then whatever arrived while it was read, with no gap or twin."""
        if stream in client.pending:
            return  # a read is already under way; it will cover this
        client.pending[stream] = []
        # Taken with the join, before any await: nothing can slip between this and the buffer.
        snap = self.relay.book.snapshot(stream)
        try:
            stored = await self.relay.read_series(stream, self.settings.gateway_history_limit)
        except RETRIABLE:
            stored = []
        buffered = client.pending.pop(stream, None)
        if buffered is None or stream not in client.streams:
            return  # stopped meanwhile
        candles, last_closed = merge_history(stored, snap, self.settings.gateway_history_limit)
        client.history_closed[stream] = last_closed
        payload = {
            "asset": stream.asset,
            "timeframe": stream.timeframe,
            "candles": [candle_payload(c) for c in candles],
        }
        self._put(client, "history", payload)
        for signal in list(self.relay.signals.get(stream, ())):
            self._put(client, "signal", signal)
        key = ("c", stream.asset, stream.tf)
        for c in buffered:
            if follows_history(c, last_closed):
                if c.closed:
                    client.outbox.supersede(key)
                self._put(client, "candle_update", candle_payload(c), None if c.closed else key)
                self.metrics.deliveries.inc()

    async def start_stream(self, client: Client, data: Any) -> dict[str, Any]:
        """Join a stream's room and send its history; a bad request gets ``stream_error``."""
        data = data if isinstance(data, dict) else {}
        await self.relay.wait_ready()
        try:
            stream = self.relay.catalog.resolve(data.get("asset"), data.get("timeframe"))
        except StreamRequestError as exc:
            self._put(client, "stream_error", {"code": exc.code, "message": exc.message})
            return {"ok": False, "code": exc.code, "message": exc.message}
        self._join(client, stream)
        self._put(client, "stream_started", {"asset": stream.asset, "timeframe": stream.timeframe})
        await self._send_history(client, stream)
        return {"ok": True, "asset": stream.asset, "timeframe": stream.timeframe}

    async def change_asset(self, client: Client, data: Any) -> dict[str, Any]:
        """Move every stream of this browser to another asset, keeping the timeframes."""
        data = data if isinstance(data, dict) else {}
        asset = data.get("asset")
        tfs = sorted({s.tf for s in client.streams}) or ([data["timeframe"]] if data.get("timeframe") else [])
        if not tfs:
            msg = "Start a stream first, or send a timeframe with the asset."
            self._put(client, "stream_error", {"code": "no_stream", "message": msg})
            return {"ok": False, "code": "no_stream", "message": msg}
        try:
            targets = [self.relay.catalog.resolve(asset, tf) for tf in tfs]
        except StreamRequestError as exc:
            self._put(client, "stream_error", {"code": exc.code, "message": exc.message})
            return {"ok": False, "code": exc.code, "message": exc.message}
        for s in list(client.streams):
            self._leave(client, s)
        for s in targets:
            self._join(client, s)
        self._put(
            client, "asset_changed", {"asset": targets[0].asset, "timeframes": [s.timeframe for s in targets]}
        )
        for s in targets:
            await self._send_history(client, s)
        return {"ok": True, "asset": targets[0].asset}

    def stop_stream(self, client: Client, data: Any) -> dict[str, Any]:
        """Leave one stream (``asset`` and ``timeframe`` given) or all of them."""
        data = data if isinstance(data, dict) else {}
        chosen = list(client.streams)
        if data.get("asset") or data.get("timeframe"):
            chosen = [
                s
                for s in client.streams
                if data.get("asset") in (None, s.asset) and data.get("timeframe") in (None, s.timeframe, s.tf)
            ]
        for s in chosen:
            self._leave(client, s)
        payload = {"streams": [{"asset": s.asset, "timeframe": s.timeframe} for s in sorted(chosen)]}
        self._put(client, "stream_stopped", payload)
        return {"ok": True, **payload}

    async def _follow(self, client: Client, state: dict[str, Any]) -> None:
        asset, period = state.get("asset"), state.get("period")
        if not asset or not period:
            return
        if any(s.asset == asset and s.tf == period for s in client.streams):
            return
        try:
            stream = self.relay.catalog.resolve(asset, period)
        except StreamRequestError as exc:
            self._put(client, "stream_error", {"code": exc.code, "message": exc.message})
            return
        for s in list(client.streams):
            self._leave(client, s)
        self._join(client, stream)
        self._put(client, "asset_changed", {"asset": stream.asset, "timeframes": [stream.timeframe]})
        await self._send_history(client, stream)

    # --- Socket.IO handlers ------------------------------------------------------------------

    def _token_ok(self, auth: Any) -> bool:
        if not self.settings.needs_token():
            return True
        token = auth.get("token") if isinstance(auth, dict) else None
        expected = self.settings.api_token or ""
        return isinstance(token, str) and bool(expected) and hmac.compare_digest(token, expected)

    def _register(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            if not self._token_ok(auth):
                raise socketio.exceptions.ConnectionRefusedError(
                    {"code": "unauthorized", "message": "A valid token is needed to connect (auth.token)."}
                )
            client = Client(sid, Outbox(self.settings.gateway_queue_size, self.settings.gateway_slow_seconds))
            self.clients[sid] = client
            self.metrics.clients.set(len(self.clients))
            client.task = asyncio.get_running_loop().create_task(self._sender(client))
            self._put(client, "connection_status", self.relay.status, ("connection_status",))
            if self.relay.platform_state:
                self._put(client, "platform_state", self.relay.platform_state, ("platform_state",))
            if self.relay.catalog.assets:
                self._put(client, "assets", {"assets": self.relay.catalog.asset_list()}, ("assets",))
            resume = auth.get("resume") if isinstance(auth, dict) else None
            if isinstance(resume, dict) and (resume.get("streams") or resume.get("follow_platform")):
                asyncio.get_running_loop().create_task(self._resume(client, resume))

        @sio.event
        async def disconnect(sid: str, reason: Any = None) -> None:
            client = self.clients.pop(sid, None)
            self.metrics.clients.set(len(self.clients))
            if client is None:
                return
            for s in list(client.streams):
                self._leave(client, s)
            client.leaving = True
            self.metrics.dropped.inc(client.outbox.clear())
            if client.task is not None:
                client.task.cancel()

        @sio.event
        async def start_stream(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            return await self.start_stream(client, data) if client else None

        @sio.event
        async def change_asset(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            return await self.change_asset(client, data) if client else None

        @sio.event
        async def stop_stream(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            return self.stop_stream(client, data) if client else None

        @sio.event
        async def resume(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            return await self._resume(client, data if isinstance(data, dict) else {}) if client else None

        @sio.event
        async def follow_platform(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            if client is None:
                return None
            client.follow = bool(data.get("enabled")) if isinstance(data, dict) else False
            self._put(client, "follow_platform", {"enabled": client.follow})
            if client.follow and self.relay.platform_state:
                await self._follow(client, self.relay.platform_state)
            return {"ok": True, "enabled": client.follow}

        @sio.event
        async def get_available_data(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            if client is None or self.backtests is None:
                return None
            answer = await self.backtests.available_data()
            self._put(client, "available_data", answer)
            return answer

        @sio.event
        async def run_backtest(sid: str, data: Any = None) -> Any:
            client = self.clients.get(sid)
            if client is None or self.backtests is None:
                return None
            status, body = await self.backtests.run(data)
            answer = {
                "ok": status < 400,
                "status": status,
                **(body if isinstance(body, dict) else {"result": body}),
            }
            self._put(client, "backtest_result", answer)
            return answer

    async def _resume(self, client: Client, data: dict[str, Any]) -> dict[str, Any]:
        """A browser back after a lost connection: restore its streams and send fresh state."""
        restored, failed = [], []
        await self.relay.wait_ready()
        client.follow = bool(data.get("follow_platform", client.follow))
        raw = data.get("streams")
        streams: list[Any] = raw if isinstance(raw, list) else []
        for item in streams[:20]:
            item = item if isinstance(item, dict) else {}
            try:
                stream = self.relay.catalog.resolve(item.get("asset"), item.get("timeframe"))
            except StreamRequestError as exc:
                failed.append(
                    {"asset": item.get("asset"), "timeframe": item.get("timeframe"), "code": exc.code}
                )
                continue
            self._join(client, stream)
            restored.append(stream)
        payload = {
            "streams": [{"asset": s.asset, "timeframe": s.timeframe} for s in restored],
            "failed": failed,
            "follow_platform": client.follow,
            "status": self.relay.status,
        }
        self._put(client, "backend_reconnected", payload)
        for s in restored:
            await self._send_history(client, s)
        return {"ok": True, **payload}
