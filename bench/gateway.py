"""Gateway latency: XADD of a candle update → receipt by Socket.IO clients, against a bare broadcast.

For each (clients, deliveries/s) case, the same clients (all in one separate process) first join a
real gateway (``python -m quantumflux.gateway``) fed by XADDs to the real Redis, then a bare
python-socketio server (uvicorn, ASGI) that emits the same payloads to the same rooms. Clients are
spread over 10 assets (rooms); every 5th update of an asset is a closed candle. Latency is receive
time minus XADD (or emit) time, on this machine's clock.

    .venv/bin/python bench/gateway.py                       # short: 50 and 200 clients, 100 and 1000 deliveries/s
    .venv/bin/python bench/gateway.py --seconds 10
    .venv/bin/python bench/gateway.py --memory-minutes 10   # memory of the gateway over a long run
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ASSETS = [f"BENCH{i}_otc" for i in range(10)]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def candle_of(asset: str, seq: int):
    from quantumflux.bus.records import Candle

    closed = seq % 5 == 4
    t = 60 * (seq // 5)
    return Candle(asset, 60, t, 1.1, 1.2, 1.0, 1.1 + seq * 1e-5, seq, closed)


# --- clients (separate process) ---------------------------------------------------------------


def clients_main(url: str, n: int, conn, ready, go) -> None:
    """N AsyncClients in this process; records (asset, seq, closed, recv time) of every update."""
    import socketio

    async def run() -> None:
        got: list[tuple[str, int, bool, float]] = []
        clients = []
        for i in range(n):
            sio = socketio.AsyncClient(reconnection=False)

            async def on_update(data, _got=got):
                _got.append((data["asset"], data["ticks"], data["closed"], time.time()))

            sio.on("candle_update", on_update)
            await sio.connect(url, transports=["websocket"], wait_timeout=20)
            await sio.call("start_stream", {"asset": ASSETS[i % len(ASSETS)], "timeframe": "1m"}, timeout=20)
            clients.append(sio)
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # drain
        conn.send(got)
        for sio in clients:
            await sio.disconnect()

    asyncio.run(run())


# --- bare baseline server (separate process) -------------------------------------------------


def bare_main(port: int) -> None:
    """A plain python-socketio server: rooms per asset and a paced broadcast of the same payloads."""
    import socketio
    import uvicorn

    from quantumflux.gateway.rooms import candle_payload

    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.event
    async def start_stream(sid, data):
        await sio.enter_room(sid, data["asset"])
        return {"ok": True}

    @sio.event
    async def bench(sid, data):
        rate, count = data["rate"], data["count"]
        sent = []
        t0 = time.perf_counter()
        for i in range(count):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            asset = ASSETS[i % len(ASSETS)]
            c = candle_of(asset, i // len(ASSETS))
            sent.append((asset, c.ticks, time.time()))
            await sio.emit("candle_update", candle_payload(c), room=asset)
        return sent

    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning")


def wait_http(url: str, timeout: float = 20) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def wait_known(url: str, timeout: float = 20) -> None:
    """Wait until the gateway lists every bench asset at 1m (its first look at the bus is done)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/api/assets", timeout=1).json()
        if "1m" in body["timeframes"] and set(ASSETS) <= {a["asset"] for a in body["assets"]}:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not find the bench streams")


def start_clients(url: str, n: int):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=clients_main, args=(url, n, child, ready, go), daemon=True)
    proc.start()
    if not ready.wait(120):
        raise RuntimeError("clients did not connect")
    return proc, parent, go


WARMUP = 1.0  # seconds at the start of every run (both servers) left out of the figures


def summarize(sent: dict[tuple[str, int], float], got, n_clients: int) -> dict[str, float]:
    start = min(sent.values(), default=0.0) + WARMUP
    lat = sorted(t - sent[(a, s)] for a, s, _, t in got if (a, s) in sent and sent[(a, s)] >= start)
    per_room = n_clients // len(ASSETS)
    closed_expected = sum(1 for (_, s) in sent if s % 5 == 4) * per_room
    closed_got = sum(1 for _a, _s, c, _t in got if c)
    if not lat:
        return {"p50": float("nan"), "p99": float("nan"), "delivered": 0, "lost_closed": closed_expected}
    return {
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "delivered": len(got),
        "expected": len(sent) * per_room,
        "lost_closed": closed_expected - closed_got,
    }


def run_gateway_case(n: int, rate: float, seconds: float, redis_url: str) -> dict[str, float]:
    import redis

    from quantumflux.bus.keys import Keys
    from quantumflux.bus.records import pack

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    r = redis.Redis.from_url(redis_url)
    for a in ASSETS:  # make the stream and the assets known before clients join
        r.xadd(keys.candles(60), {"d": pack(candle_of(a, 0))})
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update(QF_REDIS_URL=redis_url, QF_PREFIX=prefix, QF_GATEWAY_PORT=str(port))
    gw = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.gateway"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        wait_known(f"http://127.0.0.1:{port}")
        proc, conn, go = start_clients(f"http://127.0.0.1:{port}", n)
        updates = rate / (n / len(ASSETS))  # each update reaches the clients of one room
        count = int(updates * seconds)
        sent: dict[tuple[str, int], float] = {}
        t0 = time.perf_counter()
        for i in range(count):
            delay = t0 + i / updates - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            asset = ASSETS[i % len(ASSETS)]
            c = candle_of(asset, 1 + i // len(ASSETS))
            sent[(asset, c.ticks)] = time.time()
            r.xadd(keys.candles(60), {"d": pack(c)})
        go.set()
        got = conn.recv()
        proc.join(30)
        return summarize(sent, got, n)
    finally:
        gw.terminate()
        gw.wait(15)
        for k in r.scan_iter(match=f"{prefix}:*"):
            r.delete(k)


def run_bare_case(n: int, rate: float, seconds: float) -> dict[str, float]:
    import socketio

    port = free_port()
    ctx = mp.get_context("spawn")
    server = ctx.Process(target=bare_main, args=(port,), daemon=True)
    server.start()
    try:
        wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling")
        proc, conn, go = start_clients(f"http://127.0.0.1:{port}", n)
        updates = rate / (n / len(ASSETS))
        control = socketio.Client()
        control.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        raw = control.call(
            "bench", {"rate": updates, "count": int(updates * seconds)}, timeout=seconds * 5 + 30
        )
        control.disconnect()
        go.set()
        got = conn.recv()
        proc.join(30)
        return summarize({(a, s): t for a, s, t in raw}, got, n)
    finally:
        server.terminate()
        server.join(10)


def memory_run(minutes: float, redis_url: str) -> None:
    """Feed a gateway with 50 clients at 500 deliveries/s and print its memory every 30 s."""
    import psutil
    import redis

    from quantumflux.bus.keys import Keys
    from quantumflux.bus.records import pack

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    r = redis.Redis.from_url(redis_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update(QF_REDIS_URL=redis_url, QF_PREFIX=prefix, QF_GATEWAY_PORT=str(port))
    for a in ASSETS:
        r.xadd(keys.candles(60), {"d": pack(candle_of(a, 0))}, maxlen=10_000)
    gw = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.gateway"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        wait_known(f"http://127.0.0.1:{port}")
        proc, conn, go = start_clients(f"http://127.0.0.1:{port}", 50)
        ps = psutil.Process(gw.pid)
        t0 = time.perf_counter()
        i = 0
        next_report = 0.0
        samples = []
        while time.perf_counter() - t0 < minutes * 60:
            elapsed = time.perf_counter() - t0
            if elapsed >= next_report:
                rss = ps.memory_info().rss / 2**20
                samples.append(rss)
                print(f"  t={elapsed:5.0f} s  gateway RSS {rss:6.1f} MiB", flush=True)
                next_report += 30
            delay = t0 + i / 100 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            asset = ASSETS[i % len(ASSETS)]
            r.xadd(keys.candles(60), {"d": pack(candle_of(asset, 1 + i // len(ASSETS)))}, maxlen=10_000)
            i += 1
        go.set()
        conn.recv()
        proc.join(30)
        print(
            f"memory: first {samples[0]:.1f} MiB, after 1 min {samples[min(2, len(samples) - 1)]:.1f} MiB, "
            f"last {samples[-1]:.1f} MiB"
        )
    finally:
        gw.terminate()
        gw.wait(15)
        for k in r.scan_iter(match=f"{prefix}:*"):
            r.delete(k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="50,200", help="client counts (comma-separated)")
    ap.add_argument("--rates", default="100,1000", help="deliveries per second (comma-separated)")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each run")
    ap.add_argument("--memory-minutes", type=float, default=0.0, help="also run a long memory check")
    ap.add_argument("--redis-url", default=os.environ.get("QF_REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    print(
        f"{'clients':>7} {'deliv/s':>7} | {'gateway p50':>11} {'p99':>7} {'recv':>7} | "
        f"{'bare p50':>8} {'p99':>7} {'recv':>7} | {'p99 ratio':>9} {'closed lost':>11}"
    )
    for n in (int(x) for x in args.clients.split(",")):
        for rate in (float(x) for x in args.rates.split(",")):
            g = run_gateway_case(n, rate, args.seconds, args.redis_url)
            b = run_bare_case(n, rate, args.seconds)
            ratio = g["p99"] / b["p99"] if b["p99"] else float("nan")
            print(
                f"{n:>7} {rate:>7.0f} | {g['p50']:>9.2f}ms {g['p99']:>5.2f}ms {g['delivered']:>7} | "
                f"{b['p50']:>6.2f}ms {b['p99']:>5.2f}ms {b['delivered']:>7} | {ratio:>9.2f} {g['lost_closed']:>11}",
                flush=True,
            )
    if args.memory_minutes > 0:
        memory_run(args.memory_minutes, args.redis_url)


if __name__ == "__main__":
    main()
