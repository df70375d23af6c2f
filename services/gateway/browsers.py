"""The connected browsers and the streams each one watches.

Pure bookkeeping: no sockets. A browser's messages wait in its
:class:`~quantumflux.gateway.outbox.Outbox` until :mod:`quantumflux.gateway.delivery` sends them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from quantumflux.bus.records import Candle
from quantumflux.gateway.outbox import Outbox
from quantumflux.gateway.rooms import Stream


def forming_key(stream: Stream) -> tuple[str, str, int]:
    """The coalescing key of a stream's forming candle in an outbox."""
    return ("c", stream.asset, stream.tf)


@dataclass(eq=False)
class Client:
    """One connected browser."""

    sid: str
    outbox: Outbox
    streams: set[Stream] = field(default_factory=set)
    # Per stream being read, the live updates that arrived meanwhile (sent after the history).
    pending: dict[Stream, list[Candle]] = field(default_factory=dict)
    # Per stream, the open time of the last closed candle its history held: the stored series can
    # be ahead of the relay, so live updates up to that time are already on the chart.
    history_closed: dict[Stream, int] = field(default_factory=dict)
    follow: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    leaving: bool = False


class Browsers:
    """Every connected browser by session id, and the browsers of every stream."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._rooms: dict[Stream, set[str]] = {}

    def __len__(self) -> int:
        return len(self._clients)

    def add(self, client: Client) -> None:
        """A browser connected."""
        self._clients[client.sid] = client

    def remove(self, sid: str) -> Client | None:
        """A browser left: it watches nothing any more."""
        client = self._clients.pop(sid, None)
        if client is not None:
            for s in list(client.streams):
                self.leave(client, s)
        return client

    def get(self, sid: str) -> Client | None:
        """The browser of a session, if it is still connected."""
        return self._clients.get(sid)

    def all(self) -> list[Client]:
        """Every connected browser."""
        return list(self._clients.values())

    def watching(self, stream: Stream) -> list[Client]:
        """The browsers that watch a stream."""
        clients = (self._clients.get(sid) for sid in self._rooms.get(stream, ()))
        return [c for c in clients if c is not None]

    def join(self, client: Client, stream: Stream) -> None:
        """The browser watches the stream from now on."""
        client.streams.add(stream)
        self._rooms.setdefault(stream, set()).add(client.sid)

    def leave(self, client: Client, stream: Stream) -> None:
        """The browser stops watching the stream; its waiting forming update is dropped."""
        client.streams.discard(stream)
        client.pending.pop(stream, None)
        client.history_closed.pop(stream, None)
        sids = self._rooms.get(stream)
        if sids is not None:
            sids.discard(client.sid)
            if not sids:
                del self._rooms[stream]
        client.outbox.supersede(forming_key(stream))
