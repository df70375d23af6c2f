"""A small Chrome DevTools Protocol client: raw JSON over one browser-level WebSocket, on trio.

Typed CDP libraries break on current Chrome (new enum values, unknown events kill their reader),
so this speaks plain dicts. One reader task resolves command replies by ``id`` and hands every
event, synchronously and in order, to one handler. With ``flatten`` auto-attach, events of every
page arrive here tagged with ``sessionId``, and commands reach a page by carrying that id.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio
from websockets.trio.client import connect

try:  # every CDP message is parsed once; orjson does it several times faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _loads = json.loads  # type: ignore[assignment]

# Binary frames arrive base64 (4/3 larger); 256 MiB keeps even huge history frames whole.
MAX_MESSAGE = 2**28


class CDPError(Exception):
    """Chrome answered a command with an error, or the connection is gone."""


class ChromeUnreachable(CDPError):
    """Nothing answers at the remote-debugging address (Chrome not running, wrong port, hung)."""


def _get_json(url: str, timeout: float) -> Any:
    # No proxy: a loopback debugging port must never be routed through $http_proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as resp:
        return json.loads(resp.read())


async def browser_ws_url(chrome_url: str, timeout: float = 1.0) -> tuple[str, dict[str, Any]]:
    """The browser's debugger WebSocket URL (it changes on every restart) and its version info."""
    url = f"{chrome_url.rstrip('/')}/json/version"
    try:
        with trio.fail_after(timeout + 0.2):
            info = await trio.to_thread.run_sync(_get_json, url, timeout, abandon_on_cancel=True)
    except trio.TooSlowError:
        raise ChromeUnreachable(f"Chrome at {chrome_url} did not answer within {timeout:g} s") from None
    except (OSError, urllib.error.URLError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChromeUnreachable(f"cannot reach Chrome at {chrome_url}: {reason}") from None
    ws = info.get("webSocketDebuggerUrl") if isinstance(info, dict) else None
    if not isinstance(ws, str):
        raise ChromeUnreachable(f"{url} did not give a debugger address (is this Chrome?)")
    return ws, info


class CDPConnection:
    """One open CDP connection: :meth:`send` commands, events go to ``on_event``."""

    def __init__(self, ws: Any, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._ws = ws
        self._on_event = on_event
        self._next_id = 0
        self._waiting: dict[int, tuple[trio.Event, list[dict[str, Any]]]] = {}
        self.closed_reason: str | None = None
        self.messages = 0

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session_id: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Send a command and wait for its result; raise :class:`CDPError` on an error reply."""
        self._next_id += 1
        mid = self._next_id
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session_id is not None:
            msg["sessionId"] = session_id
        done = trio.Event()
        box: list[dict[str, Any]] = []
        self._waiting[mid] = (done, box)
        try:
            await self._ws.send(json.dumps(msg))
            with trio.fail_after(timeout):
                await done.wait()
        except trio.TooSlowError:
            raise CDPError(f"{method}: no answer within {timeout:g} s") from None
        finally:
            self._waiting.pop(mid, None)
        if not box:
            raise CDPError(f"{method}: connection closed ({self.closed_reason or 'unknown reason'})")
        reply = box[0]
        if "error" in reply:
            err = reply["error"]
            raise CDPError(f"{method}: {err.get('message', err) if isinstance(err, dict) else err}")
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def read_forever(self) -> None:
        """Read messages until the connection closes (then raise the websockets error)."""
        try:
            while True:
                raw = await self._ws.recv()
                self.messages += 1
                try:
                    msg = _loads(raw)
                except ValueError:  # orjson's JSONDecodeError is a ValueError too
                    continue
                if not isinstance(msg, dict):
                    continue
                mid = msg.get("id")
                if mid is not None:
                    waiter = self._waiting.get(mid)
                    if waiter is not None:
                        waiter[1].append(msg)
                        waiter[0].set()
                    continue
                self._on_event(msg)
        finally:
            # Wake every waiting command so none hangs on a dead connection.
            for done, _box in list(self._waiting.values()):
                done.set()


@asynccontextmanager
async def open_cdp(
    ws_url: str,
    on_event: Callable[[dict[str, Any]], None],
    *,
    ping_interval: float = 2.0,
    ping_timeout: float = 2.0,
    open_timeout: float = 2.0,
) -> AsyncIterator[CDPConnection]:
    """Connect to a debugger WebSocket; the caller runs :meth:`CDPConnection.read_forever`."""
    async with connect(
        ws_url,
        max_size=MAX_MESSAGE,
        max_queue=None,
        compression=None,
        proxy=None,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        close_timeout=1,
    ) as ws:
        yield CDPConnection(ws, on_event)
