"""The page bridge: send one frame through the broker's socket in the trader's own page, over CDP.

Usage (trio)::

    async with PageBridge(BridgeSettings()) as bridge:
        await bridge.send("loadHistoryPeriod", {"asset": "EURUSD_otc", "index": 178666390886,
                                                "time": 1786648980, "offset": 9000, "period": 60})
        bridge.socket_url   # the broker socket it sends on
        bridge.reconnects   # how often the page's socket was replaced and found again
        png = await bridge.screenshot()   # the broker's tab as it shows now

The answer is not read here: it arrives through ingest's passive capture like any other frame.

How the socket is found without touching the page: in each page, frame and worker target,
``Runtime.evaluate("WebSocket.prototype")``, ``Runtime.queryObjects`` for the live sockets,
``Runtime.callFunctionOn`` to list their state and URL, and a handle on the open one whose URL is
the broker's. Those calls need no ``Runtime.enable``, run no script in the page's own code, and
read no cookie, storage or DOM; the page is never reloaded. Search handles are released at once;
the one socket handle is kept (so a reconnect shows as that socket closing) and released at exit.
"""

from __future__ import annotations

import base64
import contextlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import trio
from websockets.exceptions import InvalidHandshake, WebSocketException

from quantumflux.bridge.config import BridgeSettings
from quantumflux.bridge.frames import (
    BridgeError,
    NoBrokerPage,
    NoChrome,
    NoOpenSocket,
    Pacer,
    SendUncertain,
    outgoing_frame,
    pick_socket,
    socket_pattern,
)
from quantumflux.ingest.cdp import CDPConnection, CDPError, ChromeUnreachable, browser_ws_url, open_cdp

TARGET_TYPES = ("page", "iframe", "worker")
SEARCH_GROUP = "qf-bridge-search"
SOCKET_GROUP = "qf-bridge-socket"
LIST_SOCKETS = "function() { return this.map((s) => [s.readyState, String(s.url)]); }"
TAKE = "function(i) { return this[i]; }"
SEND = "function(text) { if (this.readyState !== 1) return false; this.send(text); return true; }"
FIND_POLL = 0.2
# Frames that must never go out twice: a repeated order is a second order.
SEND_ONCE = frozenset({"openOrder"})


@dataclass(frozen=True, slots=True)
class _Socket:
    session: str
    object_id: str
    url: str


class PageBridge:
    """One connection to Chrome and the broker socket found through it; see the module docs."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.settings = settings
        self.reconnects = 0
        self.frames_sent = 0
        self._pattern = socket_pattern(settings.ws_url_pattern)
        self._pacer = Pacer(settings.bridge_pace)
        self._lock = trio.Lock()  # one frame at a time, in order
        self._conn: CDPConnection | None = None
        self._stack: AsyncExitStack | None = None
        self._cancel: trio.CancelScope | None = None
        self._sessions: dict[str, str] = {}  # targetId -> our sessionId
        self._socket: _Socket | None = None
        self._last_target: str | None = None

    @property
    def socket_url(self) -> str | None:
        """The URL of the broker socket frames go to (None until found)."""
        return self._socket.url if self._socket else None

    # ------------------------------------------------------------------ life cycle

    async def __aenter__(self) -> PageBridge:
        stack = AsyncExitStack()
        try:
            ws_url = await self._browser_address()
            try:
                self._conn = await stack.enter_async_context(
                    open_cdp(ws_url, self._on_event, open_timeout=self.settings.bridge_timeout)
                )
            except (OSError, InvalidHandshake, WebSocketException, TimeoutError) as exc:
                raise NoChrome(f"cannot open Chrome's debugging connection: {exc}") from None
            nursery = await stack.enter_async_context(trio.open_nursery())
            self._cancel = nursery.cancel_scope
            nursery.start_soon(self._read, self._conn)
            self._stack = stack
            await self._find(self.settings.bridge_timeout)
        except BaseException:
            if self._cancel is not None:
                self._cancel.cancel()
            self._stack = None
            await stack.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with trio.move_on_after(2, shield=True):
            await self._forget_socket()
            for session in list(self._sessions.values()):
                await self._quiet("Target.detachFromTarget", {"sessionId": session})
        self._sessions.clear()
        if self._cancel is not None:
            self._cancel.cancel()
        if self._stack is not None:
            await self._stack.aclose()

    async def _browser_address(self) -> str:
        try:
            ws_url, _info = await browser_ws_url(
                self.settings.chrome_url, timeout=self.settings.bridge_timeout
            )
        except ChromeUnreachable as exc:
            raise NoChrome(str(exc)) from None
        return ws_url

    async def _read(self, conn: CDPConnection) -> None:
        # A closed connection wakes every waiting command, which then fails with a plain message.
        with contextlib.suppress(WebSocketException, OSError, trio.BrokenResourceError):
            await conn.read_forever()

    def _on_event(self, msg: dict[str, Any]) -> None:
        if msg.get("method") == "Target.detachedFromTarget":
            gone = (msg.get("params") or {}).get("sessionId")
            self._sessions = {t: s for t, s in self._sessions.items() if s != gone}

    # ------------------------------------------------------------------ sending

    async def send(self, event: str, body: dict[str, Any]) -> None:
        """Send one allowed frame through the page's broker socket, paced; raise :class:`BridgeError`.

        A frame that may have gone out is never sent twice: when Chrome's answer to the send is
        lost, an order (``openOrder``) raises :class:`SendUncertain` rather than be repeated.
        """
        text = outgoing_frame(event, body)  # refused here, before anything reaches the browser
        once = event in SEND_ONCE
        async with self._lock:
            await trio.sleep(self._pacer.delay(trio.current_time()))
            sent = await self._send_on_socket(text)
            if sent is None and once:
                raise SendUncertain("Chrome did not say whether the frame went out")
            if not sent:
                await self._forget_socket()
                await self._find(self.settings.bridge_timeout)
                self.reconnects += 1
                sent = await self._send_on_socket(text)
                if sent is None and once:
                    raise SendUncertain("Chrome did not say whether the frame went out")
                if not sent:
                    raise NoOpenSocket("the broker's socket closed again before the frame could go out")
            self._pacer.sent(trio.current_time())
            self.frames_sent += 1

    async def _send_on_socket(self, text: str) -> bool | None:
        """True: sent; False: surely not sent (no open socket); None: Chrome's answer was lost."""
        sock = self._socket
        if sock is None:
            return False
        try:
            res = await self._cmd(
                "Runtime.callFunctionOn",
                {
                    "functionDeclaration": SEND,
                    "objectId": sock.object_id,
                    "arguments": [{"value": text}],
                    "returnByValue": True,
                },
                sock.session,
            )
        except BridgeError:
            return None  # the page navigated, the target went away, or the answer was lost
        return (res.get("result") or {}).get("value") is True

    async def screenshot(self) -> bytes:
        """A PNG of the tab holding the broker's socket, as it shows now (no DOM read, no navigation)."""
        async with self._lock:
            if self._socket is None:
                await self._find(self.settings.bridge_timeout)
            assert self._socket is not None
            res = await self._cmd("Page.captureScreenshot", {"format": "png"}, self._socket.session)
        try:
            return base64.b64decode(res["data"])
        except (KeyError, TypeError, ValueError):
            raise BridgeError("Chrome sent no picture of the page") from None

    # ------------------------------------------------------------------ finding the socket

    async def _find(self, wait: float) -> None:
        """Find the open broker socket, waiting up to ``wait`` s for a reconnecting page to reopen it."""
        with trio.move_on_after(wait):
            while True:
                try:
                    self._socket = await self._search()
                    return
                except NoOpenSocket:
                    await trio.sleep(FIND_POLL)
        self._socket = await self._search()  # one last look, with its plain error

    async def _search(self) -> _Socket:
        broker_seen = False
        targets = (await self._cmd("Target.getTargets")).get("targetInfos") or []
        # After a reconnect the new socket is most likely where the old one was: look there first.
        targets.sort(key=lambda t: t.get("targetId") != self._last_target)
        for target in targets:
            if target.get("type") not in TARGET_TYPES:
                continue
            session = await self._session(target["targetId"])
            if session is None:
                continue
            found, seen = await self._search_in(session)
            if found is not None:
                self._last_target = target["targetId"]
                return found
            broker_seen = broker_seen or seen
        if broker_seen:
            raise NoOpenSocket("the broker's socket is not open right now (the page may be reconnecting)")
        raise NoBrokerPage(
            "no page in Chrome has a socket to the broker: open the broker's page and log in first"
        )

    async def _session(self, target_id: str) -> str | None:
        session = self._sessions.get(target_id)
        if session is None:
            try:
                res = await self._cmd("Target.attachToTarget", {"targetId": target_id, "flatten": True})
            except BridgeError:
                return None  # closed meanwhile, or not attachable
            session = self._sessions[target_id] = str(res["sessionId"])
        return session

    async def _search_in(self, session: str) -> tuple[_Socket | None, bool]:
        """The open broker socket of one target, and whether it has broker sockets at all."""
        try:
            proto = await self._cmd(
                "Runtime.evaluate",
                {"expression": "WebSocket.prototype", "objectGroup": SEARCH_GROUP},
                session,
            )
            proto_id = (proto.get("result") or {}).get("objectId")
            if not proto_id:
                return None, False  # no WebSocket in this context
            found = await self._cmd(
                "Runtime.queryObjects", {"prototypeObjectId": proto_id, "objectGroup": SEARCH_GROUP}, session
            )
            array_id = found["objects"]["objectId"]
            listing = await self._call(session, array_id, LIST_SOCKETS, [], by_value=True)
            rows = listing.get("value") or []
            index, seen = pick_socket(rows, self._pattern)
            if index is None:
                return None, seen
            handle = await self._call(session, array_id, TAKE, [index], group=SOCKET_GROUP)
            return _Socket(session, str(handle["objectId"]), str(rows[index][1])), True
        except (BridgeError, KeyError, TypeError):
            return None, False  # a target that went away or has no JavaScript context
        finally:
            await self._quiet("Runtime.releaseObjectGroup", {"objectGroup": SEARCH_GROUP}, session)

    async def _call(
        self,
        session: str,
        object_id: str,
        fn: str,
        args: list[Any],
        *,
        by_value: bool = False,
        group: str = "",
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "functionDeclaration": fn,
            "objectId": object_id,
            "arguments": [{"value": a} for a in args],
            "returnByValue": by_value,
        }
        if group:
            params["objectGroup"] = group
        res = await self._cmd("Runtime.callFunctionOn", params, session)
        if "exceptionDetails" in res:
            raise BridgeError("the page's socket list could not be read")
        return dict(res.get("result") or {})

    async def _forget_socket(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            await self._quiet("Runtime.releaseObjectGroup", {"objectGroup": SOCKET_GROUP}, sock.session)

    # ------------------------------------------------------------------ CDP

    async def _cmd(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        if self._conn is None:
            raise BridgeError(
                "the bridge is not connected to Chrome (use it as `async with PageBridge(...)`)"
            )
        try:
            return await self._conn.send(method, params, session, timeout=self.settings.bridge_timeout)
        except CDPError as exc:
            raise BridgeError(f"Chrome: {exc}") from None
        except (WebSocketException, OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            raise BridgeError("the connection to Chrome is gone") from None

    async def _quiet(self, method: str, params: dict[str, Any], session: str | None = None) -> None:
        with contextlib.suppress(BridgeError):
            await self._cmd(method, params, session)
