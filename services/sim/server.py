"""The simulated broker's server: its page over HTTP and its Socket.IO protocol over WebSocket.

It speaks what the protocol notes describe: the Engine.IO v4 handshake ``0{…}``, Socket.IO
connect ``40``, server pings ``2`` answered by ``3``, and data as ``451-`` binary events (a text
header, then one binary frame of JSON). After ``auth`` it sends the asset list, the balance and,
from then on, every asset's ticks; on ``changeSymbol`` it sends ``updateHistoryNewFast``; on
``openOrder`` it opens a deal on the demo account at the last price quoted and settles it at
expiry with its own prices (services/sim/deals.py); on ``loadHistoryPeriod(Fast)`` it answers a
page of history from the same price path (services/sim/history.py), unless asked too fast.
Every tick it sends is written, in UTC, to the ground-truth file, and every settled deal to the
file beside it (``truth.deals.jsonl`` next to ``truth.jsonl``). With ``real_account`` (or
``QF_SIM_REAL_ACCOUNT``) the page and the account claim a real account (``isDemo`` 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import IO, Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from quantumflux.sim.deals import Events, SimAccount
from quantumflux.sim.drills import drills_from_env, run_drills
from quantumflux.sim.feed import SimFeed, SimTick, encode_event
from quantumflux.sim.history import (
    HISTORY_EVENTS,
    HistoryRequest,
    RequestGate,
    history_reply,
    parse_request,
)

log = logging.getLogger("qf.sim")

# The page's files, by the path a browser asks for: nothing else is ever read from disk.
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
}


# The page's own flag, rewritten when the simulator claims a real account.
DEMO_FLAG = b"const ACCOUNT_IS_DEMO = 1;"
REAL_FLAG = b"const ACCOUNT_IS_DEMO = 0;"


def _static(name: str) -> bytes:
    return resources.files("quantumflux.sim").joinpath("static", name).read_bytes()


def real_account_from_env() -> bool:
    """``QF_SIM_REAL_ACCOUNT`` as pydantic reads a flag (1, true, yes, on)."""
    return os.environ.get("QF_SIM_REAL_ACCOUNT", "").strip().lower() in ("1", "true", "yes", "on")


def deals_truth_path(truth: Path) -> Path:
    """Where the settled deals are written, beside the ticks' truth file."""
    return truth.with_name(truth.stem + ".deals.jsonl")


class _Client:
    """One connected page."""

    def __init__(self, ws: ServerConnection, history_gap: float) -> None:
        self.ws = ws
        self.history_gate = RequestGate(history_gap)
        self.history_turn = asyncio.Lock()
        self.sid = secrets.token_urlsafe(12)
        self.authed = False
        self.last_pong = time.monotonic()
        self.lock = asyncio.Lock()  # a header and its binary body must stay adjacent

    async def send_event(self, name: str, body: Any) -> None:
        header, raw = encode_event(name, body)
        async with self.lock:
            await self.ws.send(header)
            await self.ws.send(raw)

    async def send_text(self, text: str) -> None:
        async with self.lock:
            await self.ws.send(text)


class SimServer:
    """Serves the page and the broker protocol for one :class:`SimFeed`."""

    def __init__(
        self,
        feed: SimFeed,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        truth: Path | None = None,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        history_gap: float = 0.3,
        clock: Callable[[], float] = time.time,
        real_account: bool | None = None,
    ) -> None:
        self.feed = feed
        self.real_account = real_account_from_env() if real_account is None else real_account
        self.host = host
        self.port = port
        self.truth_path = truth
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.clock = clock
        self.history_gap = history_gap
        self.clients: set[_Client] = set()
        self.ticks_sent = 0
        self.history_sent = 0
        self.account = SimAccount(
            broker_offset=feed.broker_offset, seed=feed.seed, is_demo=not self.real_account
        )
        self._quotes: dict[str, float] = {}  # the last price quoted per asset
        # Stepping the market and sending its ticks happens under this lock, so that an order
        # sees every tick due before it, and ticks never go out of order.
        self._market = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._truth: IO[str] | None = None
        self._deals_truth: IO[str] | None = None
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """The page's address (with the port actually bound)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    # ------------------------------------------------------------------ HTTP

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/socket.io/":
            if "websocket" not in request.headers.get("Upgrade", "").lower():
                return connection.respond(400, "This simulator speaks WebSocket only.\n")
            return None
        found = STATIC.get(path)
        if found is None:
            return connection.respond(404, "Not found.\n")
        name, ctype = found
        body = _static(name)
        if self.real_account:
            body = body.replace(DEMO_FLAG, REAL_FLAG)
        headers = Headers(
            [("Content-Type", ctype), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
        )
        return Response(200, "OK", headers, body)

    # ------------------------------------------------------------------ one socket

    async def _handle(self, ws: ServerConnection) -> None:
        client = _Client(ws, self.history_gap)
        pinger = asyncio.create_task(self._ping(client))
        try:
            await client.send_text(
                "0"
                + json.dumps(
                    {
                        "sid": client.sid,
                        "upgrades": [],
                        "pingInterval": int(self.ping_interval * 1000),
                        "pingTimeout": int(self.ping_timeout * 1000),
                        "maxPayload": 1000000,
                    },
                    separators=(",", ":"),
                )
            )
            async for message in ws:
                if isinstance(message, str):
                    await self._on_text(client, message)
        except ConnectionClosed:
            pass
        finally:
            pinger.cancel()
            self.clients.discard(client)

    async def _on_text(self, client: _Client, message: str) -> None:
        if message == "3":
            client.last_pong = time.monotonic()
        elif message == "2":
            await client.send_text("3")
        elif message.startswith("40"):
            await client.send_text(
                "40" + json.dumps({"sid": secrets.token_urlsafe(12)}, separators=(",", ":"))
            )
        elif message.startswith("41"):
            await client.ws.close()
        elif message.startswith("42"):
            try:
                data = json.loads(message[2:])
            except ValueError:
                return
            if isinstance(data, list) and data and isinstance(data[0], str):
                await self._on_event(client, data[0], data[1] if len(data) > 1 else None)

    async def _on_event(self, client: _Client, name: str, body: Any) -> None:
        if name == "auth":
            await client.send_event("successauth", {"id": client.sid})
            await client.send_event("updateAssets", self.feed.assets_body())
            await client.send_event("successupdateBalance", self.account.balance_body())
            client.authed = True
            self.clients.add(client)
        elif name == "changeSymbol" and isinstance(body, dict):
            asset, period = body.get("asset"), body.get("period")
            log.info("the page chose %s at %s s (changeSymbol)", asset, period)
            if isinstance(asset, str) and isinstance(period, int):
                history = self.feed.history_body(asset, period)
                if history is not None:
                    await client.send_event("updateHistoryNewFast", history)
        elif name == "openOrder":
            await self._open_order(client, body)
        elif name in HISTORY_EVENTS:
            self._history(client, name, body)
        elif name == "saveCharts" and isinstance(body, dict):
            symbols = [e.get("symbol") for e in body.get("settings") or [] if isinstance(e, dict)]
            log.info("the page saved its chart settings for %s (saveCharts)", ", ".join(map(str, symbols)))

    async def _ping(self, client: _Client) -> None:
        # Engine.IO v4: the server pings, the page must answer within pingTimeout.
        with contextlib.suppress(ConnectionClosed, asyncio.CancelledError):
            while True:
                await asyncio.sleep(self.ping_interval)
                sent = time.monotonic()
                await client.send_text("2")
                await asyncio.sleep(self.ping_timeout)
                if client.last_pong < sent:
                    log.info("a page stopped answering pings; closing its socket")
                    await client.ws.close()
                    return

    # ------------------------------------------------------------------ paged history

    def _history(self, client: _Client, name: str, body: Any) -> None:
        # Judged on arrival: a request is too fast by when it came, not by when its turn comes.
        if not client.history_gate.admit(time.monotonic()):
            log.info("a %s request came too fast; not answered", name)
            return
        req = parse_request(name, body)
        symbol_id = self.feed.symbol_id(req.asset) if req is not None else None
        if req is None or symbol_id is None:
            return  # like the broker: a request it cannot serve gets no answer at all
        task = asyncio.create_task(self._answer_history(client, req, symbol_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_history(self, client: _Client, req: HistoryRequest, symbol_id: int) -> None:
        async with client.history_turn:  # answers go out in the order asked
            async with self._market:
                # Every tick due by now goes out first: the answer never knows more than the stream.
                now = self.clock()
                await self._advance(now)
            with_period = self.history_sent % 2 == 0
            self.history_sent += 1
            # Days of past minutes take a while to recompute: the stream goes on meanwhile. The
            # answer reads only ticks up to `now`, which the stream no longer changes.
            reply = await asyncio.to_thread(
                history_reply,
                req,
                self.feed.ticks_between,
                now=now,
                symbol_id=symbol_id,
                broker_offset=self.feed.broker_offset,
                with_period=with_period,
            )
            await self._send_events(client, [(req.event, reply)])

    # ------------------------------------------------------------------ deals

    async def _open_order(self, client: _Client, body: Any) -> None:
        async with self._market:
            # A whole millisecond, as the deal's time is written: every tick due by then is quoted
            # before the deal opens at the last of them.
            now = math.floor(self.clock() * 1000) / 1000
            await self._advance(now)
            events = self.account.place(
                body, now=now, quote=self._quotes.get, payout=self.feed.payout_of, owner=client
            )
        name, first = events[0]
        if name == "successopenOrder":
            log.info(
                "the page opened a %s on %s for %s (%s s)",
                "call" if first["command"] == 0 else "put",
                first["asset"],
                first["amount"],
                first["closeTimestamp"] - first["openTimestamp"],
            )
        else:
            log.info("an order from the page was refused: %s", first.get("error"))
        await self._send_events(client, events)

    async def _settle(self, upto: float) -> None:
        for owner, events in self.account.settle(upto, self._quotes.get):
            if owner in self.clients:
                await self._send_events(owner, events)
        closed, self.account.just_closed = self.account.just_closed, []
        if self._deals_truth is not None:
            for deal in closed:
                self._deals_truth.write(json.dumps(self.account.truth_row(deal)) + "\n")
            if closed:
                self._deals_truth.flush()

    async def _send_events(self, client: _Client, events: Events) -> None:
        try:
            for name, body in events:
                await client.send_event(name, body)
        except ConnectionClosed:
            self.clients.discard(client)

    # ------------------------------------------------------------------ ticks

    async def _stream(self) -> None:
        while True:
            async with self._market:
                await self._advance(self.clock())
            due = min(self.feed.next_time(), self.account.next_close() or math.inf)
            await asyncio.sleep(min(max(due - self.clock(), 0.0), 0.1))

    async def _advance(self, now: float) -> None:
        """Send every tick due by ``now``; deals expiring in between close at the last price before."""
        for tick in self.feed.step(now):
            await self._settle(math.nextafter(tick.ts, -math.inf))
            await self._send_tick(tick)
        await self._settle(now)
        if self._truth is not None:
            self._truth.flush()

    async def _send_tick(self, tick: SimTick) -> None:
        self._quotes[tick.asset] = tick.price
        body = self.feed.update_stream(tick)
        sent = False
        for client in list(self.clients):
            try:
                await client.send_event("updateStream", body)
                sent = True
            except ConnectionClosed:
                self.clients.discard(client)
        if sent:
            self.ticks_sent += 1
            if self._truth is not None:
                self._truth.write(
                    json.dumps({"asset": tick.asset, "ts": tick.ts, "price": tick.price}) + "\n"
                )

    # ------------------------------------------------------------------ life cycle

    async def run(self, stop: asyncio.Event, ready: Callable[[str], None] | None = None) -> None:
        """Serve until ``stop`` is set; ``ready`` gets the page URL once the port is bound."""
        if self.truth_path is not None:
            self.truth_path.parent.mkdir(parents=True, exist_ok=True)
            self._truth = self.truth_path.open("a", encoding="utf-8")
            self._deals_truth = deals_truth_path(self.truth_path).open("a", encoding="utf-8")
        try:
            async with serve(
                self._handle,
                self.host,
                self.port,
                process_request=self._http,
                ping_interval=None,  # Engine.IO pings are the protocol's; no extra WebSocket pings
                max_size=None,
                server_header=None,
            ) as server:
                self._server = server
                self.port = next(iter(server.sockets)).getsockname()[1]
                if ready is not None:
                    ready(self.url)
                streamer = asyncio.create_task(self._stream())
                drills = asyncio.create_task(run_drills(self, drills_from_env()))
                try:
                    await stop.wait()
                finally:
                    for task in (streamer, drills):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    server.close()
        finally:
            for handle in (self._truth, self._deals_truth):
                if handle is not None:
                    handle.close()
            self._truth = self._deals_truth = None
