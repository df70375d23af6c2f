"""Ingest benchmark: replay decode+publish throughput, and live capture latency through Chromium.

    .venv/bin/python bench/ingest.py            # short run (about 30 s)
    .venv/bin/python bench/ingest.py --long     # more ticks, longer live run

1. Replay: a recording of N ticks (each a ``451-`` header plus a binary body, 8 assets) goes
   through the real path (read_recording → Decoder → Publisher thread → pipelined XADD). Its
   rate is printed against plain pipelined XADD of the same packed records to the same streams,
   measured in the same run.
2. Live: a broker-shaped server streams ticks at 500/s to a page in headless Chromium; the real
   ingest service (a child process) captures them over CDP and publishes them; this script
   reads the tick streams and prints, per tick, server send → readable in Redis (p50/p99). That
   includes the server → Chromium hop, so it bounds "page receives → readable" from above.

Needs the Redis at QF_REDIS_URL (default 127.0.0.1:6379); uses its own key prefix and removes it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from quantumflux.bus.keys import Keys, partition_of  # noqa: E402
from quantumflux.bus.records import Tick, decode, pack  # noqa: E402
from quantumflux.ingest.config import IngestSettings  # noqa: E402

ASSETS = [
    "EURUSD_otc",
    "GBPUSD_otc",
    "AUDCAD_otc",
    "USDJPY_otc",
    "EURJPY_otc",
    "BTCUSD_otc",
    "#AAPL_otc",
    "NZDUSD",
]
URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
HEADER = '451-["updateStream",{"_placeholder":true,"num":0}]'


def write_recording(path: Path, n: int) -> list[Tick]:
    """A recording of ``n`` ticks as the broker sends them; returns the ticks it holds (UTC)."""
    t0 = 1_790_000_000.0
    ticks = []
    with path.open("w") as fh:
        for i in range(n):
            asset = ASSETS[i % len(ASSETS)]
            broker_ts = round(t0 + 7200 + i * 0.01, 3)
            price = round(1.1 + (i % 5000) * 1e-5, 5)
            wall = t0 + i * 0.01
            body = base64.b64encode(json.dumps([[asset, broker_ts, price]]).encode()).decode()
            for opcode, payload, ts in ((1, HEADER, wall), (2, body, wall + 0.0001)):
                line = {
                    "ts": ts,
                    "dir": "recv",
                    "socket": "S1",
                    "url": URL,
                    "opcode": opcode,
                    "payload": payload,
                }
                fh.write(json.dumps(line) + "\n")
            ticks.append(Tick(asset, broker_ts - 7200, price))
    return ticks


def clean(client: redis.Redis, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])


def bench_replay(redis_url: str, n: int, rounds: int = 2) -> dict[str, float]:
    """Best of ``rounds`` for: plain XADD, decode+publish of frames in memory, full replay from file."""
    from quantumflux.ingest.recording import read_recording
    from quantumflux.ingest.worker import IngestWorker

    client = redis.Redis.from_url(redis_url)
    best = {"plain": 0.0, "decode_publish": 0.0, "replay_file": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "bench.jsonl"
        ticks = write_recording(rec, n)
        frames = list(read_recording(rec))
        for _ in range(rounds):
            # Baseline: plain pipelined XADD of the same packed records, 1000 per round trip.
            keys = Keys(f"benchingest{uuid.uuid4().hex[:8]}")
            packed = [(keys.ticks(partition_of(t.asset, 4)), pack(t)) for t in ticks]
            t = time.perf_counter()
            for i in range(0, len(packed), 1000):
                pipe = client.pipeline(transaction=False)
                for key, data in packed[i : i + 1000]:
                    pipe.execute_command("XADD", key, "*", "d", data)
                pipe.execute()
            best["plain"] = max(best["plain"], n / (time.perf_counter() - t))
            clean(client, keys.prefix)

            for name, source in (
                ("decode_publish", lambda: frames),
                ("replay_file", lambda: read_recording(rec)),
            ):
                prefix = f"benchingest{uuid.uuid4().hex[:8]}"
                settings = IngestSettings(
                    redis_url=redis_url, prefix=prefix, source=f"replay:{rec}", speed="max"
                )
                worker = IngestWorker(settings, out=lambda _l: None)
                worker.publisher.start()
                t = time.perf_counter()
                worker.frames(source())
                worker.publisher.wait_idle(timeout=300)
                best[name] = max(best[name], n / (time.perf_counter() - t))
                worker.publisher.stop()
                stored = sum(client.xlen(Keys(prefix).ticks(p)) for p in range(4))
                clean(client, prefix)
                if stored != n:
                    print(f"  !! {name} stored {stored} of {n} ticks")
    client.close()
    return best


def bench_live(redis_url: str, seconds: float, rate: float) -> list[float]:
    from quantumflux.ingest.chrome import Chromium
    from tests.ingest.minibroker import MiniBroker

    prefix = f"benchingest{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    streams = {Keys(prefix).ticks(p): "0-0" for p in range(4)}
    count = int(seconds * rate)
    lat: list[float] = []
    with Chromium() as chrome, MiniBroker(rate=rate, count=count, assets=tuple(ASSETS[:4])) as broker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
        env.update(
            {
                "QF_REDIS_URL": redis_url,
                "QF_PREFIX": prefix,
                "QF_CHROME_URL": chrome.http_url,
                "QF_OPEN_URL": broker.page,
            }
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.ingest"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + seconds + 30
            while len(lat) < count and time.monotonic() < deadline:
                got = client.xread(streams, count=1000, block=500)
                now = time.time()
                for key, rows in got or []:
                    k = key.decode()
                    for eid, fields in rows:
                        streams[k] = eid
                        rec = decode(fields[b"d"])
                        if isinstance(rec, Tick):
                            lat.append((now - rec.ts) * 1000.0)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            clean(client, prefix)
            client.close()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--long", action="store_true", help="more ticks and a longer live run")
    args = ap.parse_args()
    redis_url = os.environ.get("QF_REDIS_URL", "redis://127.0.0.1:6379/0")
    n = 400_000 if args.long else 100_000
    seconds = 60.0 if args.long else 10.0

    print(f"Replay: {n} ticks ({2 * n} frames, 8 assets) → Decoder → Publisher thread → Redis, best of 2")
    r = bench_replay(redis_url, n)
    print(f"  plain pipelined XADD        : {r['plain']:>9,.0f} ticks/s (same records, same run)")
    print(
        f"  decode+publish (in memory)  : {r['decode_publish']:>9,.0f} ticks/s   "
        f"ratio {r['decode_publish'] / r['plain']:.2f}"
    )
    print(
        f"  replay from file (qf replay): {r['replay_file']:>9,.0f} ticks/s   "
        f"ratio {r['replay_file'] / r['plain']:.2f}"
    )
    print("  targets: ≥ 50 000 ticks/s and ratio ≥ 0.30")

    print(f"Live: 500 ticks/s for {seconds:g} s, server → headless Chromium → CDP → ingest → Redis")
    lat = bench_live(redis_url, seconds, 500.0)
    if not lat:
        print("  !! no tick arrived")
        return
    lat.sort()

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    print(f"  ticks read            : {len(lat)} of {int(seconds * 500)}")
    print(
        f"  send → readable (ms)  : p50 {p(0.5):.2f}  p90 {p(0.9):.2f}  p99 {p(0.99):.2f}  "
        f"max {lat[-1]:.2f}  mean {statistics.fmean(lat):.2f}  (target p99 ≤ 10 ms)"
    )


if __name__ == "__main__":
    main()
