"""The simulated broker as a real process, talked to by a real WebSocket client."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from quantumflux.bus.records import Event, HistoryBatch, Tick
from quantumflux.ingest.chrome import ChromeNotFound, chrome_argv, find_chrome
from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame

ROOT = Path(__file__).resolve().parents[2]


class Sim:
    def __init__(self, proc: subprocess.Popen[str], url: str, truth: Path) -> None:
        self.proc = proc
        self.url = url
        self.truth = truth

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "socket.io/?EIO=4&transport=websocket"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def truth_ticks(self) -> list[tuple[str, float, float]]:
        rows = [json.loads(line) for line in self.truth.read_text().splitlines()]
        return [(r["asset"], r["ts"], r["price"]) for r in rows]


def start_sim(tmp_path: Path, *args: str) -> Sim:
    truth = tmp_path / "truth.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.sim", "--port", "0", "--truth", str(truth), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(
            f"qf sim did not print its address: {url!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return Sim(proc, url, truth)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path, "--assets", "3", "--rate", "4", "--seed", "11", "--ping-interval", "0.5")
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


async def handshake(ws: ClientConnection) -> dict:
    opening = await ws.recv()
    assert isinstance(opening, str) and opening.startswith("0{")
    await ws.send("40")
    assert str(await ws.recv()).startswith("40{")
    await ws.send('42["auth",{"session":"demo","isDemo":1,"uid":1,"platform":2,"isFastHistory":true}]')
    return json.loads(opening[1:])


async def capture(ws: ClientConnection, frames: list[Frame], *, answer_pings: bool = True) -> None:
    """Record every frame the way a CDP capture would, until the server closes the socket."""
    try:
        async for msg in ws:
            now = time.time()
            if isinstance(msg, bytes):
                frames.append(Frame(now, "recv", "s1", ws_url_of(ws), 2, base64.b64encode(msg).decode()))
            else:
                frames.append(Frame(now, "recv", "s1", ws_url_of(ws), 1, msg))
                if msg == "2" and answer_pings:
                    await ws.send("3")
    except ConnectionClosed:
        pass


async def until(cond: Callable[[], object], what: str, guard: float = 30.0) -> None:
    """Wait until ``cond()`` holds; fail after a generous guard time (not a speed check)."""
    deadline = time.monotonic() + guard
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


def decoded(frames: list[Frame]) -> list[object]:
    """What the frames received so far decode to (a fresh decoder each time)."""
    dec = Decoder()
    return [r for f in list(frames) for r in dec.feed(f)]


def ws_url_of(ws: ClientConnection) -> str:
    return f"ws://127.0.0.1:{ws.remote_address[1]}/socket.io/?EIO=4&transport=websocket"


def test_ticks_decoded_from_the_wire_equal_the_truth_file(sim: Sim) -> None:
    frames: list[Frame] = []

    async def session() -> None:
        async with connect(sim.ws_url, max_size=None) as ws:
            opening = await handshake(ws)
            assert opening["pingInterval"] == 500 and opening["upgrades"] == []
            reader = asyncio.create_task(capture(ws, frames))
            # live GBPUSD ticks first, so the history below must end where they stand
            await until(
                lambda: any(isinstance(r, Tick) and r.asset == "GBPUSD_otc" for r in decoded(frames)),
                "a live GBPUSD_otc tick",
            )
            await ws.send('42["changeSymbol",{"asset":"GBPUSD_otc","period":60}]')

            def enough() -> bool:
                out = decoded(frames)
                pings = sum(1 for f in list(frames) if f.payload == "2")
                ticks = sum(1 for r in out if isinstance(r, Tick))
                return pings >= 3 and ticks >= 20 and any(isinstance(r, HistoryBatch) for r in out)

            await until(enough, "the history, 20 live ticks and 3 pings")
            # stop the server while still reading, so every tick it sent is received
            await asyncio.to_thread(sim.stop)
            await asyncio.wait_for(reader, 10)

    asyncio.run(session())
    assert sim.proc.returncode == 0

    dec = Decoder()
    out = [r for f in frames for r in dec.feed(f)]
    got = [(t.asset, t.ts, t.price) for t in out if isinstance(t, Tick)]
    truth = sim.truth_ticks()
    assert len(truth) >= 20
    assert got == truth
    assert {a for a, _, _ in truth} == {"EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc"}
    # pings came and were answered, so the socket stayed open for the whole run
    assert dec.counters["heartbeat"] >= 3

    [assets] = [r for r in out if isinstance(r, Event) and r.type == "assets"]
    assert [a["asset"] for a in assets.data["assets"]] == ["EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc"]
    assert [r.data["balance"] for r in out if isinstance(r, Event) and r.type == "balance"] == [10000.0]

    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.asset == "GBPUSD_otc" and batch.period == 60
    assert len(batch.ticks) > 100
    # the history is the same walk: its ticks end where the live ticks already sent stand
    live_before = [x for x in truth if x[0] == "GBPUSD_otc" and x[1] <= batch.ticks[-1][0]]
    assert live_before and live_before[-1][1:] == batch.ticks[-1]
    # candles are the history ticks' own OHLC, by UTC minute
    expect: dict[int, list[float]] = {}
    for t, p in batch.ticks:
        b = int(t // 60 * 60)
        c = expect.setdefault(b, [b, p, p, p, p])
        c[2], c[3], c[4] = max(c[2], p), min(c[3], p), p
    assert [list(c) for c in batch.candles] == [expect[b] for b in sorted(expect)]


def test_a_page_that_stops_answering_pings_is_dropped(sim: Sim) -> None:
    async def session() -> bool:
        async with connect(sim.ws_url) as ws:
            await handshake(ws)
            frames: list[Frame] = []
            await asyncio.wait_for(capture(ws, frames, answer_pings=False), 15)
            return any(f.payload == "2" for f in frames)

    assert asyncio.run(session())


def test_the_page_is_served_and_nothing_else(sim: Sim) -> None:
    with urllib.request.urlopen(sim.url, timeout=5) as resp:
        html = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/html")
    assert 'data-testid="sim-asset"' in html and 'data-testid="sim-timeframe"' in html
    with urllib.request.urlopen(sim.url + "app.js", timeout=5) as resp:
        js = resp.read().decode()
    assert "changeSymbol" in js and "saveCharts" in js and "EIO=4&transport=websocket" in js
    for path in ("static/app.js", "feed.py", "..%2F..%2Fpyproject.toml", "socket.io/"):
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(sim.url + path, timeout=5)


def test_bad_options_get_a_plain_message(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "quantumflux.sim", "--assets", "0", "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "assets" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.browser
def test_the_page_in_chromium_connects_and_selects_like_the_app(tmp_path: Path) -> None:
    import threading

    try:
        chromium = find_chrome()
    except ChromeNotFound:
        pytest.skip("no Chromium on this machine")
    sim = start_sim(tmp_path, "--assets", "2", "--seed", "3")
    lines: list[str] = []
    assert sim.proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(sim.proc.stderr.readline, "")), daemon=True)
    reader.start()
    browser = subprocess.Popen(
        # a debugging port keeps the headless browser open; port 0 (Chromium picks one) on loopback only
        chrome_argv(chromium, tmp_path / "chrome", 0, sim.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wanted = [
        "the page chose EURUSD_otc at 60 s (changeSymbol)",
        "chart settings for EURUSD_otc (saveCharts)",
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(any(w in x for x in lines) for w in wanted):
            time.sleep(0.2)
    finally:
        browser.kill()
        browser.wait(timeout=30)
        sim.stop()
        reader.join(timeout=10)
    for w in wanted:
        assert any(w in x for x in lines), f"the sim never logged {w!r}: {lines}"
