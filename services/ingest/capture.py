"""Capture WebSocket frames from Chrome over CDP, passively, and keep doing it across restarts.

The call sequence (measured on current Chromium): browser-level ``Target.setAutoAttach`` with
``flatten`` and ``waitForDebuggerOnStart``; for each page or worker session ``Network.enable``,
a nested auto-attach (iframes and dedicated workers) and ``Runtime.runIfWaitingForDebugger``.
A new tab stays paused until then, so it is captured from its first frame. Only the Network
domain is enabled in the user's pages: nothing runs in them and they cannot tell.

Lifecycle: a missing Chrome fails fast (one short HTTP request); a hung browser is noticed by a
``Browser.getVersion`` check (plus WebSocket pings) within about 4 s; reconnecting polls
``/json/version`` with backoff from 0.2 s to 5 s, because the debugger URL changes on every
restart. Every change is reported through ``on_status`` as connected / disconnected /
reconnected with a reason in plain words.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio
from websockets.exceptions import WebSocketException

from quantumflux.bus.backoff import Backoff
from quantumflux.ingest.cdp import CDPConnection, CDPError, ChromeUnreachable, browser_ws_url, open_cdp
from quantumflux.ingest.frames import Frame

log = logging.getLogger("qf.ingest.capture")

# Targets whose network traffic we watch; everything else (browser UI, tabs' shells) is left alone.
NETWORK_TYPES = frozenset({"page", "iframe", "worker", "service_worker", "shared_worker"})
NESTED_TYPES = frozenset({"page", "iframe"})
ROOT_FILTER = [{"type": "page"}, {"type": "service_worker"}, {"type": "shared_worker"}]
# A mapped time further than this from the local clock is not trusted (clock jumps, sleeps).
MAX_CLOCK_SKEW = 60.0
# Sockets remembered at once; far more than a trader's tabs ever hold open.
MAX_SOCKETS = 256

StatusCallback = Callable[[str, str, dict[str, Any]], None]


@dataclass(slots=True)
class _Socket:
    id: str
    url: str | None
    offset: float | None  # wall time minus Chrome's monotonic timestamp, for this socket


@dataclass(slots=True)
class _Outage:
    """Whether Chrome was ever attached, and since when and why it is away."""

    since: float
    ever: bool = False
    reason: str | None = None


class Capture:
    """Attach to Chrome and call ``on_frame`` for every WebSocket frame of every page.

    ``on_frame(frame)`` and ``on_closed(socket_id)`` are called synchronously from the reader,
    in the order Chrome reported them; they must be quick (decode and hand off).
    """

    def __init__(
        self,
        chrome_url: str,
        on_frame: Callable[[Frame], None],
        on_status: StatusCallback,
        *,
        on_closed: Callable[[str], None] | None = None,
        open_url: str | None = None,
        ping_interval: float = 2.0,
        ping_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chrome_url = chrome_url
        self.on_frame = on_frame
        self.on_status = on_status
        self.on_closed = on_closed or (lambda _sid: None)
        self.open_url = open_url
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.clock = clock
        self.counters: Counter[str] = Counter()
        self.connected = False
        self.browser = ""
        self._sockets: dict[tuple[str, str], _Socket] = {}
        self._targets: dict[str, str] = {}  # session id -> target id
        self._offset: float | None = None  # browser-wide wall-minus-monotonic, from any request
        self._conn: CDPConnection | None = None
        self._nursery: trio.Nursery | None = None
        self._handlers: dict[str, Callable[[str, dict[str, Any]], Any]] = {
            "Network.webSocketFrameReceived": lambda sid, p: self._frame(sid, p, "recv"),
            "Network.webSocketFrameSent": lambda sid, p: self._frame(sid, p, "sent"),
            "Network.requestWillBeSent": lambda _sid, p: self._learn_clock(p),
            "Network.webSocketCreated": self._socket_created,
            "Network.webSocketWillSendHandshakeRequest": self._handshake,
            "Network.webSocketClosed": self._socket_closed,
            "Target.attachedToTarget": self._attached,
            "Target.detachedFromTarget": self._detached,
        }

    # ---- the reconnect loop -------------------------------------------------------------

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Capture until cancelled, reconnecting whenever Chrome goes away."""
        backoff = Backoff(initial=0.2, cap=5.0)
        outage = _Outage(since=time.monotonic())
        started = False

        def started_once() -> None:
            nonlocal started
            if not started:
                task_status.started()
                started = True

        while True:
            try:
                await self._session(backoff, outage, started_once)
            except BaseException as exc:
                if self._ended_by(exc, outage):
                    raise
            finally:
                self.connected = False
                self._conn = self._nursery = None
                self._forget_all()
            # The caller may go on (and report) even though Chrome is not there yet.
            started_once()
            await trio.sleep(backoff.next_delay())

    async def _session(self, backoff: Backoff, outage: _Outage, started: Callable[[], None]) -> None:
        """One connection to the browser, from attaching until it fails."""
        ws_url, info = await browser_ws_url(self.chrome_url, timeout=1.0)
        self.browser = str(info.get("Browser", ""))
        async with (
            open_cdp(
                ws_url, self._on_event, ping_interval=self.ping_interval, ping_timeout=self.ping_timeout
            ) as conn,
            trio.open_nursery() as nursery,
        ):
            self._conn, self._nursery = conn, nursery
            nursery.start_soon(conn.read_forever)
            await self._attach(conn)
            self.connected = True
            backoff.reset()
            self._back_up(outage)
            started()
            nursery.start_soon(self._check_alive, conn)

    def _back_up(self, outage: _Outage) -> None:
        extra: dict[str, Any] = {"browser": self.browser, "chrome_url": self.chrome_url}
        if outage.ever:
            down = time.monotonic() - outage.since
            extra["down_seconds"] = round(down, 3)
            self.on_status("reconnected", f"back after {down:.1f} s away ({outage.reason})", extra)
        else:
            self.on_status("connected", f"attached to {self.browser or 'Chrome'}", extra)
        outage.ever = True
        outage.reason = None

    def _ended_by(self, exc: BaseException, outage: _Outage) -> bool:
        """Note why the connection ended; True when it must not be retried (cancelled, exiting)."""
        leaves = list(_leaves(exc))
        if any(isinstance(e, trio.Cancelled | KeyboardInterrupt | SystemExit) for e in leaves):
            return True
        first = next(
            (e for e in leaves if isinstance(e, ChromeUnreachable)),
            next((e for e in leaves if isinstance(e, _EXPECTED)), leaves[0]),
        )
        if not isinstance(first, _EXPECTED):
            log.error("capture stopped by an unexpected error; reconnecting", exc_info=first)
        reason = str(first) if isinstance(first, ChromeUnreachable) else _plain_reason(first)
        if outage.reason is None and outage.ever:
            outage.since = time.monotonic()
        self._went_down(reason, outage.reason)
        outage.reason = outage.reason or reason
        return False

    def _went_down(self, reason: str, already: str | None) -> None:
        self.counters["disconnects"] += 1
        if already is None:
            log.debug("Chrome: %s", reason)
            self.on_status("disconnected", reason, {"chrome_url": self.chrome_url})

    async def _attach(self, conn: CDPConnection) -> None:
        await conn.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True, "filter": ROOT_FILTER},
        )
        if self.open_url:
            targets = (await conn.send("Target.getTargets")).get("targetInfos", [])
            if not any(
                t.get("type") == "page" and str(t.get("url", "")).startswith(self.open_url) for t in targets
            ):
                # Opened after auto-attach, so the new tab waits for us and no frame is missed.
                await conn.send("Target.createTarget", {"url": self.open_url})
                self.counters["tabs_opened"] += 1

    async def _check_alive(self, conn: CDPConnection) -> None:
        # The TCP connection of a stopped (SIGSTOP) browser stays up: only a question tells.
        while True:
            await trio.sleep(self.ping_interval)
            try:
                await conn.send("Browser.getVersion", timeout=self.ping_timeout)
            except CDPError:
                raise CDPError(
                    f"Chrome stopped answering (no reply within {self.ping_timeout:g} s)"
                ) from None

    async def _setup_session(self, conn: CDPConnection, sid: str, ttype: str, waiting: bool) -> None:
        try:
            if ttype in NETWORK_TYPES:
                await conn.send("Network.enable", {}, session_id=sid)
            if ttype in NESTED_TYPES:
                await conn.send(
                    "Target.setAutoAttach",
                    {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True},
                    session_id=sid,
                )
        except CDPError as exc:
            # The target may have closed meanwhile; that is no reason to drop the connection.
            self.counters["session_setup_failed"] += 1
            log.debug("session setup failed: %s", exc)
        if waiting:
            try:
                await conn.send("Runtime.runIfWaitingForDebugger", {}, session_id=sid)
            except CDPError:
                self.counters["session_setup_failed"] += 1

    # ---- events -------------------------------------------------------------------------

    def _on_event(self, msg: dict[str, Any]) -> None:
        method = msg.get("method")
        params = msg.get("params")
        handle = self._handlers.get(method) if isinstance(method, str) else None
        if handle is None or not isinstance(params, dict):
            return
        try:
            handle(msg.get("sessionId") or "", params)
        except Exception:  # a surprising event must never stop the capture
            self.counters["event_errors"] += 1
            log.exception("could not handle %s", method)

    def _socket_created(self, sid: str, params: dict[str, Any]) -> None:
        rid = str(params.get("requestId"))
        url = params.get("url")
        self._sockets[(sid, rid)] = _Socket(
            self._socket_id(sid, rid), url if isinstance(url, str) else None, None
        )
        self.counters["sockets"] += 1
        self._bound_sockets()

    def _handshake(self, sid: str, params: dict[str, Any]) -> None:
        off = self._learn_clock(params)
        sock = self._sockets.get((sid, str(params.get("requestId"))))
        if sock is not None and off is not None:
            sock.offset = off

    def _socket_closed(self, sid: str, params: dict[str, Any]) -> None:
        sock = self._sockets.pop((sid, str(params.get("requestId"))), None)
        if sock is not None:
            self.on_closed(sock.id)

    def _attached(self, _sid: str, params: dict[str, Any]) -> None:
        info = params.get("targetInfo") or {}
        new_sid = str(params.get("sessionId"))
        self._targets[new_sid] = str(info.get("targetId", new_sid))
        if self._conn is not None and self._nursery is not None:
            self._nursery.start_soon(
                self._setup_session,
                self._conn,
                new_sid,
                str(info.get("type")),
                bool(params.get("waitingForDebugger")),
            )
        self.counters["targets_attached"] += 1

    def _detached(self, _sid: str, params: dict[str, Any]) -> None:
        gone = str(params.get("sessionId"))
        self._targets.pop(gone, None)
        for key in [k for k in self._sockets if k[0] == gone]:
            self.on_closed(self._sockets.pop(key).id)

    def _bound_sockets(self) -> None:
        # A reload or navigation never reports the old socket closed: forget the oldest ones.
        while len(self._sockets) > MAX_SOCKETS:
            oldest = next(iter(self._sockets))
            self.on_closed(self._sockets.pop(oldest).id)
            self.counters["sockets_forgotten"] += 1

    def _socket_id(self, sid: str, rid: str) -> str:
        target = self._targets.get(sid, sid)
        return f"{target[:8]}-{rid}"

    def _learn_clock(self, params: dict[str, Any]) -> float | None:
        wall, mono = params.get("wallTime"), params.get("timestamp")
        if isinstance(wall, int | float) and isinstance(mono, int | float) and wall > 0:
            self._offset = float(wall) - float(mono)
            return self._offset
        return None

    def _frame(self, sid: str, params: dict[str, Any], direction: str) -> None:
        resp = params.get("response")
        if not isinstance(resp, dict):
            self.counters["bad_frame_events"] += 1
            return
        rid = str(params.get("requestId"))
        sock = self._sockets.get((sid, rid))
        if sock is None:
            # A socket opened before we attached: no URL, no handshake; recognised by content later.
            sock = _Socket(self._socket_id(sid, rid), None, None)
            self._sockets[(sid, rid)] = sock
            self.counters["sockets_without_url"] += 1
            self._bound_sockets()
        now = self.clock()
        ts = now
        mono = params.get("timestamp")
        off = sock.offset if sock.offset is not None else self._offset
        if off is not None and isinstance(mono, int | float):
            mapped = float(mono) + off
            if abs(mapped - now) < MAX_CLOCK_SKEW:
                ts = mapped
        opcode = resp.get("opcode")
        payload = resp.get("payloadData")
        if opcode not in (1, 2) or not isinstance(payload, str):
            self.counters["frames_skipped"] += 1  # control frames, continuation oddities
            return
        self.counters[f"frames_{direction}"] += 1
        self.on_frame(Frame(ts, direction, sock.id, sock.url, int(opcode), payload))

    def _forget_all(self) -> None:
        for sock in self._sockets.values():
            self.on_closed(sock.id)
        self._sockets.clear()
        self._targets.clear()
        self._offset = None


_EXPECTED = (CDPError, WebSocketException, OSError, trio.TooSlowError, TimeoutError)


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (possibly nested) exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for sub in exc.exceptions:
            out.extend(_leaves(sub))
        return out
    return [exc]


def _plain_reason(exc: BaseException) -> str:
    """A short, everyday description of why the connection to Chrome ended."""
    name = type(exc).__name__
    if name.startswith("ConnectionClosed"):
        if "ping" in str(exc).lower():
            return "Chrome stopped answering (no reply to pings)"
        return "the browser closed the debugging connection (Chrome quit or crashed)"
    if isinstance(exc, trio.TooSlowError | TimeoutError):
        return "Chrome did not answer in time"
    text = str(exc)
    return text if text else name
