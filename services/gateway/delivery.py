"""Sending to browsers: one sender task per browser, through its outbox.

Every message for a browser goes through its :class:`~quantumflux.gateway.outbox.Outbox`, so the
order is kept (``stream_started``, ``history``, then ``candle_update``) and a slow browser only
slows itself: its forming updates are coalesced while its socket is backed up, and it is let go
with a reason when it stays too far behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from quantumflux.gateway.browsers import Client
from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.outbox import Key, Message

log = logging.getLogger("qf.gateway")

BACKLOG_WAIT = 0.005


def encode(event: str, data: Any) -> eio_packet.Packet:
    """A Socket.IO event as the Engine.IO packet that goes on the wire (encoded once, sent to many)."""
    pkt = sio_packet.Packet(sio_packet.EVENT, namespace="/", data=[event, data])
    return eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())


def message(event: str, data: Any, coalesce: Key | None = None) -> Message:
    """An event ready for any number of outboxes."""
    return Message(event, encode(event, data), coalesce)


class Delivery:
    """Queues messages for browsers and hands them to their sockets, never more than the backlog allows."""

    def __init__(self, sio: socketio.AsyncServer, metrics: Metrics, send_backlog: int) -> None:
        self.sio = sio
        self.metrics = metrics
        self.send_backlog = send_backlog

    def put(self, client: Client, event: str, data: Any, coalesce: Key | None = None) -> None:
        """Queue one event for one browser."""
        self.put_message(client, message(event, data, coalesce))

    def put_message(self, client: Client, msg: Message) -> None:
        """Queue an encoded message for one browser and wake its sender."""
        if client.leaving:
            return
        before = client.outbox.counts.coalesced
        client.outbox.put(msg, time.monotonic())
        self.metrics.coalesced.inc(client.outbox.counts.coalesced - before)
        client.wake.set()
        self._check_slow(client)

    def open(self, client: Client) -> None:
        """Start the sender of a browser that just connected."""
        client.task = asyncio.get_running_loop().create_task(self._sender(client))

    def close(self, client: Client) -> None:
        """Stop the sender of a browser that left; what still waited is dropped."""
        client.leaving = True
        self.metrics.dropped.inc(client.outbox.clear())
        if client.task is not None:
            client.task.cancel()

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
        eio_sid = self.sio.manager.eio_sid_from_sid(client.sid, "/")
        while not client.leaving:
            await client.wake.wait()
            client.wake.clear()
            while len(client.outbox) and not client.leaving:
                backlog = self._backlog(eio_sid)
                if backlog is None:
                    return
                if backlog >= self.send_backlog:
                    # The socket is behind: wait, and let the outbox coalesce meanwhile.
                    await asyncio.sleep(BACKLOG_WAIT)
                    self._check_slow(client)
                    continue
                msg = client.outbox.pop(time.monotonic())
                if msg is None:
                    break
                await self.sio.eio.send_packet(eio_sid, msg.body)
