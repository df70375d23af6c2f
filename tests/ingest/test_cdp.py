"""CDP capture against a real headless Chromium and a small broker-shaped server."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from quantumflux.ingest.capture import Capture
from quantumflux.ingest.cdp import CDPError, ChromeUnreachable, browser_ws_url, open_cdp
from quantumflux.ingest.chrome import Chromium
from quantumflux.ingest.frames import Frame
from tests.conftest import free_port
from tests.ingest.minibroker import MiniBroker

pytestmark = pytest.mark.browser


class Run:
    """Capture in a trio loop until ``until()`` holds (or a generous guard time passes)."""

    def __init__(self, chrome_url: str, open_url: str | None = None, **kw: Any) -> None:
        self.frames: list[Frame] = []
        self.status: list[tuple[str, str]] = []
        self.capture = Capture(
            chrome_url,
            self.frames.append,
            lambda s, r, _e: self.status.append((s, r)),
            open_url=open_url,
            **kw,
        )

    def until(
        self, cond: Callable[[], bool], guard: float = 30.0, during: Callable[[], None] | None = None
    ) -> None:
        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(self.capture.run)
                if during is not None:
                    await trio.to_thread.run_sync(during)
                with trio.move_on_after(guard):
                    while not cond():
                        await trio.sleep(0.05)
                nursery.cancel_scope.cancel()

        trio.run(main)


def as_frames(sent: list[tuple[int, str | bytes]]) -> list[tuple[int, str]]:
    return [(op, p if isinstance(p, str) else base64.b64encode(p).decode()) for op, p in sent]


def test_a_new_tab_is_captured_from_its_first_frame_exactly(chromium: Chromium) -> None:
    with MiniBroker(rate=200, count=300, assets=("EURUSD_otc", "GBPUSD_otc")) as broker:
        run = Run(chromium.http_url, open_url=broker.page)
        run.until(lambda: broker.done.is_set() and len(run.frames) >= 2 + 600 + 1)
    assert run.status[0][0] == "connected"
    conn = broker.connections[0]
    recv = [(f.opcode, f.payload) for f in run.frames if f.dir == "recv"]
    assert recv == as_frames(conn.frames)  # every frame, in order, text and binary (base64)
    sent = [f.payload for f in run.frames if f.dir == "sent"]
    assert sent == conn.received
    urls = {f.url for f in run.frames}
    assert urls == {f"ws://127.0.0.1:{broker.port}/socket.io/?EIO=4&transport=websocket"}
    assert len({f.socket for f in run.frames}) == 1
    # Capture times are wall-clock times close to when the server sent each tick.
    bodies = [f for f in run.frames if f.opcode == 2]
    for f, (_asset, utc, _price) in zip(bodies, conn.ticks, strict=True):
        assert abs(f.ts - utc) < 2.0


def test_a_socket_opened_before_attach_is_captured_without_url(chromium: Chromium) -> None:
    with MiniBroker(rate=100, count=400) as broker:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        req = urllib.request.Request(f"{chromium.http_url}/json/new?{broker.page}", method="PUT")
        with opener.open(req, timeout=5) as resp:
            target = json.loads(resp.read())
        try:
            deadline = time.monotonic() + 10
            while not broker.connections or len(broker.connections[0].ticks) < 20:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            run = Run(chromium.http_url)
            run.until(lambda: sum(f.opcode == 2 for f in run.frames) >= 50)
        finally:
            with opener.open(f"{chromium.http_url}/json/close/{target['id']}", timeout=5):
                pass
    mine = [f for f in run.frames if f.url is None]
    assert len(mine) >= 100
    assert len({f.socket for f in mine}) == 1
    # What was captured is a contiguous run of what the server sent (frames before attach are gone).
    sent = as_frames(broker.connections[0].frames)
    got = [(f.opcode, f.payload) for f in mine]
    got = got[next(i for i, g in enumerate(got) if g[0] == 2) :]
    start = sent.index(got[0])
    assert sent[start : start + len(got)] == got


def test_chrome_absent_fails_fast_and_keeps_trying() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    run = Run(url)
    with pytest.raises(ChromeUnreachable, match="cannot reach Chrome"):
        trio.run(browser_ws_url, url)
    run.until(lambda: run.capture.counters["disconnects"] >= 3, guard=10)
    assert run.status == [("disconnected", run.status[0][1])]  # said once, not on every retry
    assert "cannot reach Chrome" in run.status[0][1]


def test_an_error_reply_is_a_clear_error(chromium: Chromium) -> None:
    async def main() -> str:
        ws, _info = await browser_ws_url(chromium.http_url)
        async with open_cdp(ws, lambda _m: None) as conn, trio.open_nursery() as nursery:
            nursery.start_soon(conn.read_forever)
            version = await conn.send("Browser.getVersion")
            with pytest.raises(CDPError, match=r"Nope\.nothing.*(not found|wasn.t found)"):
                await conn.send("Nope.nothing")
            nursery.cancel_scope.cancel()
            return str(version.get("product"))

    assert "Chrome" in trio.run(main)


def test_a_hung_browser_is_noticed_and_capture_resumes(chromium: Chromium, tmp_path: Path) -> None:
    with MiniBroker(rate=20, count=400) as broker:
        run = Run(chromium.http_url, open_url=broker.page, ping_interval=1.0, ping_timeout=1.0)
        marks: dict[str, float] = {}

        def freeze() -> None:
            while sum(f.opcode == 2 for f in run.frames) < 10:
                time.sleep(0.05)
            os.kill(chromium.pid, signal.SIGSTOP)
            marks["stopped"] = time.monotonic()
            while not any(s == "disconnected" for s, _ in run.status):
                time.sleep(0.02)
            marks["noticed"] = time.monotonic()
            os.kill(chromium.pid, signal.SIGCONT)

        try:
            run.until(lambda: any(s == "reconnected" for s, _ in run.status), during=freeze, guard=40)
        finally:
            os.kill(chromium.pid, signal.SIGCONT)
    states = [s for s, _ in run.status]
    assert states[:3] == ["connected", "disconnected", "reconnected"]
    assert "stopped answering" in run.status[1][1]
    print(f"hung browser noticed after {marks['noticed'] - marks['stopped']:.2f} s: {run.status[1][1]}")
