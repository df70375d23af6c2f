"""A real gateway process on a free port, real Socket.IO clients, and records published to the bus."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgpack
import pytest
import redis
import socketio

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, Event, pack
from quantumflux.bus.timeframes import label
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def on_the_bus(redis_url: str, prefix: str) -> tuple[set[str], set[str]]:
    """Timeframe labels and assets a gateway finds in one look at the bus, found here independently:
    candle streams, stored series and the candle service's heartbeat."""
    client = redis.Redis.from_url(redis_url)
    timeframes: set[int] = set()
    assets: set[str] = set()
    try:
        for raw in client.scan_iter(match=f"{prefix}:*"):
            kind, _, rest = raw.decode()[len(prefix) + 1 :].partition(":")
            if kind == "candles" and rest.isdigit():
                timeframes.add(int(rest))
            elif kind == "series":
                assets.add(rest.rpartition(":")[0])
            elif kind == "health" and (beat := client.get(raw)) is not None:
                hb = msgpack.unpackb(beat)
                if hb.get("service") == "candles":
                    timeframes |= set(hb.get("timeframes") or [])
    finally:
        client.close()
    return {label(t) for t in timeframes}, assets


class Gateway:
    """``python -m quantumflux.gateway`` in a child process."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = dict(env)
        self.env.setdefault("QF_GATEWAY_POLL_INTERVAL", "0.2")
        self.env["QF_GATEWAY_PORT"] = str(self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, healthy: bool = True) -> Gateway:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.gateway"], env=self.env, cwd=ROOT, stderr=subprocess.PIPE
        )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "the gateway exited"
            try:
                r = httpx.get(f"{self.url}/health", timeout=1)
            except httpx.HTTPError:
                return False
            return r.status_code == 200 or not healthy

        wait_until(up, 60, "the gateway to answer")  # a busy machine takes its time to start one
        if healthy:
            wait_until(self.knows_the_bus, 10, "one discovery round: timeframes and assets known")
        return self

    def knows_the_bus(self) -> bool:
        """True once ``/api/assets`` lists every timeframe and asset that is on the bus now."""
        timeframes, assets = on_the_bus(self.env["QF_REDIS_URL"], self.env["QF_PREFIX"])
        token = self.env.get("QF_API_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = httpx.get(f"{self.url}/api/assets", headers=headers, timeout=5).json()
        known = {a["asset"] for a in body["assets"]}
        return timeframes <= set(body["timeframes"]) and assets <= known

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None

    def metric(self, name: str, headers: dict[str, str] | None = None) -> float:
        text = httpx.get(f"{self.url}/metrics", headers=headers or {}, timeout=5).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0


@pytest.fixture
def start_gateway(test_env: dict[str, str]) -> Iterator[Callable[..., Gateway]]:
    """Start gateways with extra ``QF_`` settings; all are stopped after the test."""
    started: list[Gateway] = []

    def start(port: int | None = None, healthy: bool = True, **settings: str) -> Gateway:
        env = dict(test_env)
        env.update({f"QF_{k.upper()}": v for k, v in settings.items()})
        gw = Gateway(env, port).start(healthy=healthy)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


class Recorder:
    """A real python-socketio client that records every event it receives, in order."""

    def __init__(self, **kwargs: Any) -> None:
        self.sio = socketio.Client(**kwargs)
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

        @self.sio.on("*")
        def _any(event: str, data: Any = None) -> None:
            with self.lock:
                self.events.append((event, data))

    def connect(self, url: str, **kwargs: Any) -> Recorder:
        self.sio.connect(url, transports=["websocket"], wait_timeout=10, **kwargs)
        return self

    def named(self, name: str) -> list[Any]:
        with self.lock:
            return [d for e, d in self.events if e == name]

    def wait(self, name: str, n: int = 1, timeout: float = 10.0) -> list[Any]:
        return wait_until(
            lambda: (lambda got: got if len(got) >= n else None)(self.named(name)), timeout, name
        )

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def recorders() -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(**kwargs: Any) -> Recorder:
        r = Recorder(**kwargs)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


class Bus:
    """Publishes contract records the way the candle service and ingest do."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = Keys(prefix)

    def candle(self, c: Candle) -> None:
        pipe = self.r.pipeline(transaction=False)
        pipe.xadd(self.keys.candles(c.tf), {"d": pack(c)})
        if c.closed:
            pipe.zadd(self.keys.series(c.asset, c.tf), {pack(c): c.time})
        pipe.execute()

    def candles(self, cs: list[Candle]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for c in cs:
            pipe.xadd(self.keys.candles(c.tf), {"d": pack(c)})
            if c.closed:
                pipe.zadd(self.keys.series(c.asset, c.tf), {pack(c): c.time})
        pipe.execute()

    def event(self, type_: str, **data: Any) -> None:
        self.r.xadd(self.keys.events(), {"d": pack(Event(type_, time.time(), data))})


@pytest.fixture
def bus(rclient: redis.Redis, prefix: str) -> Bus:
    return Bus(rclient, prefix)


def make_candle(asset: str, t: int, n: int, closed: bool, tf: int = 60) -> Candle:
    """The n-th update of the candle opening at ``t``: prices that differ from update to update."""
    base = 1.1 + (t % 6000) / 1e5
    return Candle(asset, tf, t, base, base + 0.001 * n, base - 0.001, base + 0.0001 * n, n, closed)


def payload(c: Candle) -> dict[str, Any]:
    """What a browser must receive for a candle: computed here, independently of the gateway."""
    label = {60: "1m", 300: "5m", 5: "5s"}[c.tf]
    return {
        "asset": c.asset,
        "timeframe": label,
        "time": c.time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "ticks": c.ticks,
        "closed": c.closed,
        "complete": c.complete,
        **({} if c.volume is None else {"volume": c.volume}),
    }


class AsyncRecorder:
    """An asyncio python-socketio client on a loop of its own (fast: no thread per message)."""

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.events: list[tuple[str, Any]] = []
        self.sio = socketio.AsyncClient(reconnection=False)

        @self.sio.on("*")
        async def _any(event: str, data: Any = None) -> None:
            self.events.append((event, data))

    def run(self, coro: Any, timeout: float = 20) -> Any:
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self, url: str) -> AsyncRecorder:
        self.run(self.sio.connect(url, transports=["websocket"], wait_timeout=10))
        return self

    def call(self, event: str, data: Any) -> Any:
        return self.run(self.sio.call(event, data, timeout=10))

    def named(self, name: str) -> list[Any]:
        return [d for e, d in list(self.events) if e == name]

    def close(self) -> None:
        if self.sio.connected:
            self.run(self.sio.disconnect())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
