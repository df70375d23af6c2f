"""Bad input on purpose: hostile Socket.IO events and REST bodies against the running services.

Candles, persistence, the gateway and the backtest service run as real processes; ticks go onto
the bus as ingest would put them. While they flow, a hostile client sends wrong types, huge
payloads, unknown fields, path-like dataset ids and oversized frames. Each gets a clear error
(an answer with a code and a plain message, or a 4xx with one), the services stay up, a polite
chart client keeps getting its candles, and every tick fed reaches the tick files.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import socketio

from quantumflux.bus.keys import Keys, partition_of
from quantumflux.bus.records import Tick, pack
from tests.system.audit import tick_rows
from tests.system.harness import ChartClient, Stack, wait_until

ASSET = "EURUSD_otc"
HUGE = "x" * 200_000
PATHS = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\boot.ini",
    "data/../../secret",
    "%2e%2e%2fetc%2fpasswd",
    "\x00",
]
BAD_STREAMS: list[Any] = [
    None,
    "EURUSD_otc",
    123,
    [],
    [ASSET, "5s"],
    {},
    {"asset": 123, "timeframe": "5s"},
    {"asset": ASSET, "timeframe": None},
    {"asset": ASSET, "timeframe": True},
    {"asset": ASSET, "timeframe": -5},
    {"asset": ASSET, "timeframe": "1e9"},
    {"asset": ASSET, "timeframe": {"$gt": 1}},
    {"asset": ASSET, "timeframe": "7m"},
    {"asset": HUGE, "timeframe": "5s"},
    {"asset": ASSET, "timeframe": HUGE},
    *({"asset": p, "timeframe": "5s"} for p in PATHS),
]


class Feeder(threading.Thread):
    """Puts ticks on the tick streams as ingest would (the bus contract), and remembers them."""

    def __init__(self, url: str, prefix: str, assets: list[str], rate: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(url)
        self.keys = Keys(prefix)
        self.assets = assets
        self.rate = rate
        self.sent: list[tuple[str, float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        price = 1.1
        while not self.stop.wait(1 / self.rate):
            ts = round(time.time(), 3)
            pipe = self.client.pipeline(transaction=False)
            for i, asset in enumerate(self.assets):
                p = round(price + i + (len(self.sent) % 17) / 1e4, 5)
                pipe.xadd(self.keys.ticks(partition_of(asset, 4)), {"d": pack(Tick(asset, ts, p))})
                self.sent.append((asset, ts, p))
            pipe.execute()


def ack(sio: socketio.Client, event: str, data: Any, timeout: float = 10) -> Any:
    """Emit and wait for the server's answer (``None`` when it sent none)."""
    return sio.call(event, data, timeout=timeout) if data is not ... else sio.call(event, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Any:
    import os
    import uuid

    tmp = tmp_path_factory.mktemp("hostile")
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update({"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(tmp / "data")})
    s = Stack(env, tmp, with_browser=False, with_backtest=True, timeframes="5s")
    feeder = Feeder(redis_url, prefix, [ASSET, "GBPUSD_otc"])
    try:
        s.start()
        feeder.start()
        wait_until(
            lambda: ASSET in s.http_get("/api/assets") and '"5s"' in s.http_get("/api/assets"), 60, "5s"
        )
        yield s, feeder
    finally:
        feeder.stop.set()
        feeder.join(5)
        s.stop()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
        client.close()


def test_hostile_socketio_events_get_clear_errors_and_harm_nobody(stack: Any) -> None:
    s, _feeder = stack
    polite = ChartClient(s.gateway_url, ASSET, "5s").connect()
    hostile = socketio.Client(reconnection=False)
    errors: list[Any] = []
    hostile.on("stream_error", lambda d: errors.append(d))
    hostile.connect(s.gateway_url, transports=["websocket"], wait_timeout=10)
    try:
        for bad in BAD_STREAMS:
            answer = ack(hostile, "start_stream", bad)
            assert isinstance(answer, dict) and answer["ok"] is False, bad
            assert answer["code"] in ("bad_request", "bad_timeframe", "unknown_timeframe", "unknown_asset"), (
                answer
            )
            assert isinstance(answer["message"], str) and answer["message"]
            answer = ack(hostile, "change_asset", bad)
            assert isinstance(answer, dict) and answer["ok"] is False, bad
        wait_until(lambda: len(errors) >= 2 * len(BAD_STREAMS), 20, "a stream_error for each bad request")
        assert all(set(e) >= {"code", "message"} for e in errors)

        # Unknown fields are ignored, not trusted: the stream starts with what is known.
        ok = ack(hostile, "start_stream", {"asset": ASSET, "timeframe": "5s", "admin": True, "__proto__": {}})
        assert ok["ok"] is True and ok["asset"] == ASSET and ok["timeframe"] == "5s"
        for junk in (None, 5, "all", [1], {"asset": {"x": 1}}, {"timeframe": HUGE}):
            answer = ack(hostile, "stop_stream", junk)
            assert isinstance(answer, dict) and answer.get("ok") is True
        for junk in (None, "yes", {"enabled": HUGE}, {"enabled": [1]}):
            answer = ack(hostile, "follow_platform", junk)
            assert isinstance(answer, dict) and isinstance(answer.get("enabled"), bool)
        for junk in (None, "x", {"streams": "all"}, {"streams": [None, 1, {"asset": "x" * 2000}] * 50}):
            answer = ack(hostile, "resume", junk)
            assert isinstance(answer, dict) and answer.get("ok") is True
            assert len(answer["streams"]) <= 20
        for junk in [None, "x", 5, {"dataset": None}, *({"dataset": p, "strategy": "x"} for p in PATHS)]:
            answer = ack(hostile, "run_backtest", junk, timeout=30)
            assert isinstance(answer, dict) and answer["ok"] is False and 400 <= answer["status"] < 500, (
                answer
            )
            assert answer.get("error"), answer
        answer = ack(hostile, "get_available_data", {"dataset": "../../etc"}, timeout=30)
        assert isinstance(answer, dict) and "assets" in answer
        hostile.emit("no_such_event", {"x": HUGE})
        hostile.emit("start_stream")  # no data at all
        assert hostile.connected
    finally:
        hostile.disconnect()

    # An oversized frame (over the gateway's 1 MB limit) costs the sender its connection, no more.
    big = socketio.Client(reconnection=False)
    gone = threading.Event()
    big.on("disconnect", lambda *a: gone.set())
    big.connect(s.gateway_url, transports=["websocket"], wait_timeout=10)
    big.emit("start_stream", {"asset": "y" * 3_000_000, "timeframe": "5s"})
    assert gone.wait(20), "the gateway kept a connection that sent a 3 MB frame"
    big.disconnect()

    # The services stayed up and the polite client still gets closed candles.
    before = sum(1 for _t, n, d in polite.received() if n == "candle_update" and d.get("closed"))
    wait_until(
        lambda: sum(1 for _t, n, d in polite.received() if n == "candle_update" and d.get("closed")) > before,
        30,
        "the polite client's next closed candle",
    )
    polite.close()
    assert all(p.alive() for p in s.procs.values()), s.outputs()
    assert json.loads(s.http_get("/health"))["status"] == "ok"


def test_hostile_rest_bodies_get_clear_errors(stack: Any) -> None:
    s, _feeder = stack
    api = httpx.Client(base_url=s.gateway_url, timeout=30, trust_env=False)
    backtest = httpx.Client(base_url=f"http://127.0.0.1:{s.backtest_port}", timeout=30, trust_env=False)
    bodies: list[Any] = [
        b"not json",
        b"{",
        b"[]",
        b"null",
        b'"dataset"',
        json.dumps({"dataset": 5, "strategy": "x"}).encode(),
        json.dumps({"dataset": [], "strategy": "x"}).encode(),
        json.dumps({"dataset": "a", "strategy": None}).encode(),
        json.dumps({"dataset": "a", "strategy": "x", "params": "fast"}).encode(),
        json.dumps({"dataset": "a", "strategy": "x", "unknown": {"deep": [1] * 1000}}).encode(),
        json.dumps({"dataset": HUGE, "strategy": HUGE}).encode(),
        *(json.dumps({"dataset": p, "strategy": "sma_cross"}).encode() for p in PATHS),
        *(json.dumps({"datasets": [p], "strategy": "sma_cross"}).encode() for p in PATHS),
        b"[" * 500 + b"]" * 500,
    ]
    for body in bodies:
        for client, path in ((api, "/api/backtests"), (backtest, "/backtests")):
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500, (path, body[:80], r.status_code, r.text[:300])
            answer = r.json()
            assert isinstance(answer, dict) and ("error" in answer or "detail" in answer), answer
            assert "Traceback" not in json.dumps(answer)
    # A body of 20 MB: refused or answered with an error, never a crash.
    r = api.post("/api/backtests", content=b'{"dataset": "' + b"a" * 20_000_000 + b'"}')
    assert 400 <= r.status_code < 500
    for query in (
        {"asset": "../../etc/passwd", "timeframe": "5s"},
        {"asset": ASSET, "timeframe": "abc"},
        {"asset": ASSET, "timeframe": "5s", "limit": "-1"},
        {"asset": ASSET, "timeframe": "5s", "limit": "1e9"},
        {"asset": ASSET, "timeframe": "5s", "limit": "99999999999999999999"},
        {"asset": HUGE[:5000], "timeframe": "5s"},
        {},
    ):
        r = api.get("/api/candles", params=query)
        assert 400 <= r.status_code < 500, (query, r.status_code)
        assert r.json()
    r = api.get("/api/candles", params={"asset": ASSET, "timeframe": "5s", "limit": 5, "evil": "1"})
    assert r.status_code == 200 and r.json()["asset"] == ASSET
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/../../etc/passwd", "/..%5c..%5cetc"):
        r = api.get(path)
        assert "root:" not in r.text
    assert api.get("/health").json()["status"] == "ok"
    assert all(p.alive() for p in s.procs.values()), s.outputs()
    api.close()
    backtest.close()


def test_nothing_fed_was_lost(stack: Any) -> None:
    """Every tick fed during the hostile traffic is in the tick files, once."""
    s, feeder = stack
    feeder.stop.set()
    feeder.join(5)
    sent = list(feeder.sent)
    root: Path = s.data_dir / "realtime_stream" / "tick_data"

    def on_disk() -> list[tuple[str, float, float]]:
        rows = []
        for p in sorted(root.glob("*.csv")):
            rows += tick_rows(p.name, p.read_text())
        return rows

    wait_until(lambda: len(on_disk()) >= len(sent), 60, "the tick files to hold every tick fed")
    key = lambda t: (t[0], round(t[1] * 1000), round(t[2], 6))  # noqa: E731
    disk = [key(t) for t in on_disk()]
    assert sorted(disk) == sorted(key(t) for t in sent)


DEEP = b"[" * 100_000  # nesting deeper than Python's JSON parser can follow: RecursionError, not ValueError


@pytest.mark.parametrize(
    "path",
    ["/api/backtests", "/backtests"],
)
def test_deeply_nested_json_gets_a_clear_error(stack: Any, path: str) -> None:
    s, _feeder = stack
    base = s.gateway_url if path.startswith("/api") else f"http://127.0.0.1:{s.backtest_port}"
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
        r = client.post(path, content=DEEP, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])
        assert all(p.alive() for p in s.procs.values())


def test_a_frame_with_an_absurd_period_is_counted_not_fatal(test_env: dict[str, str], tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.system.harness import ROOT

    recording = tmp_path / "absurd-period.jsonl"
    url = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
    lines = (ROOT / "tests" / "fixtures" / "po" / "sample-recording.jsonl").read_text().splitlines()[:20]
    bad = {"ts": 1781423530.0, "dir": "sent", "socket": "R1", "url": url, "opcode": 1,
           "payload": '42["changeSymbol",{"asset":"EURUSD_otc","period":1e21}]'}  # fmt: skip
    recording.write_text("\n".join([*lines, json.dumps(bad)]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "replay", str(recording), "--speed", "max"],
        cwd=ROOT, env=test_env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
