"""Helpers of the candle tests: publishing ticks, running workers, reading bars, ground truth."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import msgpack
import redis

from quantumflux.bus.keys import Keys, partition_of
from quantumflux.bus.records import HistoryBatch, Tick, pack

ROOT = Path(__file__).resolve().parents[2]
BROKER_OFFSET = 7200


def po_ticks(po_data: Path, asset: str = "GBPUSD_otc") -> list[tuple[str, float, float]]:
    """The real ticks of both fixture files, moved from the broker's clock to UTC."""
    out = []
    for name in ("po-gbpusd-otc-ticks-2026-06-a.json", "po-gbpusd-otc-ticks-2026-06-b.json"):
        for ts, price in json.loads((po_data / name).read_text()):
            out.append((asset, round(ts - BROKER_OFFSET, 3), float(price)))
    return out


def publish(
    client: redis.Redis, prefix: str, ticks: list[tuple[str, float, float]], partitions: int = 4
) -> None:
    """XADD ticks to their partitions, in order, pipelined."""
    keys = Keys(prefix)
    pipe = client.pipeline(transaction=False)
    for i, (asset, ts, price) in enumerate(ticks):
        pipe.xadd(keys.stream_of_ticks(asset, partitions), {"d": pack(Tick(asset, ts, price))})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def publish_history(client: redis.Redis, prefix: str, batch: HistoryBatch, partitions: int = 4) -> None:
    """XADD one broker history batch to its asset's partition."""
    client.xadd(Keys(prefix).stream_of_ticks(batch.asset, partitions), {"d": pack(batch)})


def truth(
    ticks: list[tuple[str, float, float]], tfs: tuple[int, ...], offset: int = 7200
) -> dict[tuple, tuple]:
    """Candles of in-order ticks, computed plainly: (asset, tf, time) -> (o, h, l, c, n)."""
    out: dict[tuple, list] = {}
    for asset, ts, price in ticks:
        for tf in tfs:
            off = offset if tf > 3600 else 0
            t = math.floor((ts + off) / tf) * tf - off
            c = out.get((asset, tf, t))
            if c is None:
                out[(asset, tf, t)] = [price, price, price, price, 1]
            else:
                c[1] = max(c[1], price)
                c[2] = min(c[2], price)
                c[3] = price
                c[4] += 1
    return {k: tuple(v) for k, v in out.items()}


def read_bars(client: redis.Redis, prefix: str, tfs: tuple[int, ...]) -> list[dict[str, Any]]:
    """Every entry of the bars streams, decoded."""
    out = []
    for tf in tfs:
        for _eid, fields in client.xrange(Keys(prefix).bars(tf)):
            out.append(msgpack.unpackb(fields[b"d"], raw=False))
    return out


def bars_by_key(bars: list[dict[str, Any]]) -> dict[tuple, tuple]:
    """Bars as (asset, tf, time) -> (o, h, l, c, n); fails on a duplicate."""
    out: dict[tuple, tuple] = {}
    for b in bars:
        k = (b["asset"], b["tf"], b["time"])
        assert k not in out, f"bar written twice: {k}"
        out[k] = (b["open"], b["high"], b["low"], b["close"], b["ticks"])
    return out


def start_worker(env: dict[str, str], *args: str, log: Path | None = None, **extra: str) -> subprocess.Popen:
    """``python -m quantumflux.candles`` as a real child process."""
    full = dict(env)
    full.update(extra)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "quantumflux.candles", *args],
            cwd=ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        )
    finally:
        if log:
            out.close()  # the child has its own copy


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Signal a worker and wait for it; returns its exit code."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    return proc.wait(timeout=timeout)


def wait_for(cond, timeout: float = 60, every: float = 0.2, what: str = "condition") -> Any:
    """Poll ``cond()`` until it returns something true; fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        val = cond()
        if val:
            return val
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def caught_up(client: redis.Redis, prefix: str, partitions: int = 4) -> bool:
    """True once the candle service has applied every tick entry of every partition.

    The worker moves its group's position in the same script that writes a batch's outputs, so
    from then on every bar those entries make is written, and nothing more will come of them.
    """
    keys = Keys(prefix)
    for p in range(partitions):
        newest = client.xrevrange(keys.ticks(p), count=1)
        if not newest:
            continue
        try:
            info = {g["name"]: g for g in client.xinfo_groups(keys.ticks(p))}
        except redis.ResponseError:
            return False
        group = info.get(b"candles") or info.get("candles")
        if group is None or group["last-delivered-id"] != newest[0][0]:
            return False
    return True


def done(client: redis.Redis, prefix: str, tfs: tuple[int, ...], want: dict) -> bool:
    """Every wanted bar is there and every tick entry applied: nothing more is coming."""
    return len(read_bars(client, prefix, tfs)) >= len(want) and caught_up(client, prefix)


def heartbeats(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    """Live heartbeats of candle workers."""
    out = []
    for k in client.scan_iter(match=f"{prefix}:health:candles:*"):
        raw = client.get(k)
        if raw:
            out.append(msgpack.unpackb(raw, raw=False))
    return out


def events(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    """Every event on the events stream, decoded."""
    return [msgpack.unpackb(f[b"d"], raw=False) for _i, f in client.xrange(Keys(prefix).events())]


def by_asset_partition(assets: list[str], partitions: int = 4) -> dict[int, list[str]]:
    """Which partition each asset lands in."""
    out: dict[int, list[str]] = defaultdict(list)
    for a in assets:
        out[partition_of(a, partitions)].append(a)
    return out


def assert_same_bars(got: dict[tuple, tuple], want: dict[tuple, tuple]) -> None:
    """Equal bar maps, or a short, readable list of what differs."""
    if got == want:
        return
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])[:5]
    lines = [f"missing {k}: want {want[k]}" for k in missing]
    lines += [f"extra {k}: got {got[k]}" for k in extra]
    lines += [f"different {k}: got {got[k]}, want {want[k]}" for k in changed]
    raise AssertionError("bars differ from the ground truth:\n" + "\n".join(lines))


def closed_truth(ticks, tfs, sentinels):
    """Ground truth minus the candles the sentinel ticks opened (those are still forming)."""
    want = truth(ticks, tfs)
    for k in truth(sentinels, tfs):
        want.pop(k, None)
    return want


def sentinels_for(ticks):
    """One tick per asset far enough after its last one to close every candle of every timeframe."""
    last: dict[str, float] = {}
    for a, ts, _p in ticks:
        last[a] = max(last.get(a, 0.0), ts)
    return [(a, ts + 80_000.0, 1.0) for a, ts in sorted(last.items())]


def synthetic(assets, n_per_asset, start=1_781_438_400.0, step=0.2, seed=1):
    """Round-robin ticks of several assets, event time far faster than the wall clock."""
    rnd = random.Random(seed)
    price = {a: 1.0 + i for i, a in enumerate(assets)}
    out = []
    for k in range(n_per_asset):
        for a in assets:
            price[a] = round(max(0.01, price[a] + rnd.uniform(-0.001, 0.001)), 5)
            out.append((a, round(start + k * step + rnd.choice((0.0, 0.001, 0.999)) * step, 3), price[a]))
    return out


class Producer(threading.Thread):
    """Publishes ticks in chunks over a few seconds, like a live feed."""

    def __init__(self, client, prefix, ticks, chunk=500, pause=0.05):
        super().__init__(daemon=True)
        self.args = (client, prefix, ticks, chunk, pause)

    def run(self):
        client, prefix, ticks, chunk, pause = self.args
        for i in range(0, len(ticks), chunk):
            publish(client, prefix, ticks[i : i + chunk])
            time.sleep(pause)
