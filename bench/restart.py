"""Restart benchmark: SIGKILL a service, start it again at once, time until its output flows again.

    python bench/restart.py                 # every service, 3 restarts each way
    python bench/restart.py candles --runs 5

Each service runs as a real process (``python -m services.<name>``) on a live feed; it is killed
with SIGKILL and started again immediately, and the figure is the time from the kill to the
first output of the new process (so it includes the process's own start). Two ways:

- new name: the replacement runs under another QF_INSTANCE (what every restart did before
  instances had stable names: the default name held the pid);
- same name: the replacement runs under the dead process's QF_INSTANCE (a container restart).

What "flowing again" means per service:
candles      a new closed bar on the 1s bars stream (live ticks come in all along)
persistence  the group ``persistence`` moves on a tick stream (rows written to the files)
signals      the group ``signals`` moves on the 1m bars stream (closed candles come in all along)
gateway      its HTTP port answers
ingest       a new tick on the tick streams (from a recording played at full speed)

Uses the Redis at QF_REDIS_URL (default 127.0.0.1:6379) under a throw-away key prefix.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quantumflux.bus.health import read_heartbeats  # noqa: E402
from quantumflux.bus.keys import Keys  # noqa: E402
from quantumflux.bus.records import Candle, Tick, pack  # noqa: E402

ASSETS = ("EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc", "ETHUSD", "EURGBP_otc", "USDCHF_otc")
RECORDING = ROOT / "tests" / "fixtures" / "po" / "sample-recording.jsonl"
Marker = Callable[[], object]
Probe = tuple[Marker, redis.Redis, "Keys"]


@dataclass
class Scenario:
    """How to run one service and how to tell that its output flows."""

    module: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    feed: str | None = None  # "ticks" or "bars": what the bench publishes meanwhile
    marker: Callable[[redis.Redis, Keys, dict[str, str]], object] | None = None


def last_id(client: redis.Redis, key: str) -> object:
    newest = client.xrevrange(key, count=1)
    return newest[0][0] if newest else None


def group_positions(client: redis.Redis, streams: list[str], group: str) -> tuple[object, ...]:
    out: list[object] = []
    for key in streams:
        try:
            info = {g["name"]: g for g in client.xinfo_groups(key)}
        except redis.ResponseError:
            out.append(None)
            continue
        g = info.get(group.encode()) or info.get(group)
        out.append(g["last-delivered-id"] if g else None)
    return tuple(out)


def gateway_up(env: dict[str, str]) -> object:
    url = f"http://127.0.0.1:{env['QF_GATEWAY_PORT']}/"
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


SCENARIOS: dict[str, Scenario] = {
    "candles": Scenario(
        "quantumflux.candles",
        env={"QF_TIMEFRAMES": "1s", "QF_CLOSE_GRACE": "0.2"},
        feed="ticks",
        marker=lambda c, k, _e: last_id(c, k.bars(1)),
    ),
    "persistence": Scenario(
        "quantumflux.persistence",
        env={"QF_PERSIST": "tick"},
        feed="ticks",
        marker=lambda c, k, _e: group_positions(c, [k.ticks(p) for p in range(4)], "persistence"),
    ),
    "signals": Scenario(
        "quantumflux.signals",
        env={"QF_SIGNALS": "sma_cross(fast=2,slow=3)@*:1m"},
        feed="bars",
        marker=lambda c, k, _e: group_positions(c, [k.bars(60)], "signals"),
    ),
    "gateway": Scenario("quantumflux.gateway", marker=lambda _c, _k, e: gateway_up(e)),
    "ingest": Scenario(
        "quantumflux.ingest",
        args=["--source", f"replay:{RECORDING}", "--speed", "max"],
        marker=lambda c, k, _e: tuple(last_id(c, k.ticks(p)) for p in range(4)),
    ),
}


class Feed(threading.Thread):
    """Live ticks (or closed 1m candles) at a steady pace until stopped."""

    def __init__(self, client: redis.Redis, keys: Keys, kind: str) -> None:
        super().__init__(daemon=True)
        self.client, self.keys, self.kind = client, keys, kind
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        t0 = 1_781_438_400
        while not self.halt.wait(0.02):
            pipe = self.client.pipeline(transaction=False)
            for i, asset in enumerate(ASSETS):
                price = 1.0 + i + (n % 100) / 1e4
                if self.kind == "ticks":
                    pipe.xadd(
                        self.keys.stream_of_ticks(asset, 4), {"d": pack(Tick(asset, time.time(), price))}
                    )
                else:
                    bar = Candle(asset, 60, t0 + 60 * n, price, price, price, price, 1, True)
                    pipe.xadd(self.keys.bars(60), {"d": pack(bar)})
            pipe.execute()
            n += 1


def wait_change(marker: Marker, old: object, timeout: float, up: Callable[[], bool] | None = None) -> Timing:
    """When ``marker()`` is set and differs from ``old`` (and when ``up()`` first held), monotonic."""
    start = time.monotonic()
    seen_up: float | None = None
    while time.monotonic() - start < timeout:
        if seen_up is None and up is not None and up():
            seen_up = time.monotonic()
        now = marker()
        if now is not None and now != old:
            return Timing(time.monotonic(), seen_up)
        time.sleep(0.01)
    return Timing(None, seen_up)


@dataclass
class Timing:
    flowing: float | None
    up: float | None


def beating(client: redis.Redis, keys: Keys, pid: int) -> bool:
    """True once a heartbeat of process ``pid`` is in Redis (it has started and connected)."""
    return any(b.get("pid") == pid for b in read_heartbeats(client, keys))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(sc: Scenario, env: dict[str, str], instance: str, log: Path) -> subprocess.Popen[bytes]:
    full = dict(env, QF_INSTANCE=instance)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", sc.module, *sc.args],
            cwd=ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def one_restart(sc: Scenario, env: dict[str, str], probe: Probe, same: bool, log: Path) -> Timing:
    """Start, let it flow, SIGKILL, start again; seconds from the kill to up and to flowing again."""
    marker, client, keys = probe
    first = start(sc, env, "bench-a", log)
    second = None
    try:
        if wait_change(marker, None, 60).flowing is None:
            raise SystemExit(f"{sc.module} never produced anything (see {log})")
        time.sleep(1.5)  # past a lease round or two: the steady state, not the start-up
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.wait()
        at_kill = marker()
        second = start(sc, env, "bench-a" if same else "bench-b", log)
        t = wait_change(marker, at_kill, 60, partial(beating, client, keys, second.pid))
        return Timing(
            None if t.flowing is None else t.flowing - killed, None if t.up is None else t.up - killed
        )
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    print(f"{sc.module} ignored SIGTERM for 30 s (see {log})", file=sys.stderr)
                    proc.kill()
                    proc.wait()


def measure(name: str, url: str, same: bool, workdir: Path) -> Timing:
    """One restart of one service under a fresh key prefix and data folder."""
    sc = SCENARIOS[name]
    assert sc.marker is not None
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    keys = Keys(prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update(QF_REDIS_URL=url, QF_PREFIX=prefix, QF_DATA_DIR=str(workdir / prefix), **sc.env)
    if name == "gateway":
        env.update(QF_GATEWAY_PORT=str(free_port()), QF_GATEWAY_WEB_DIR=str(ROOT / "web" / "dist"))
    feed = Feed(client, keys, sc.feed) if sc.feed else None
    if feed:
        feed.start()
    try:
        probe = (partial(sc.marker, client, keys, env), client, keys)
        return one_restart(sc, env, probe, same, workdir / f"{name}.log")
    finally:
        if feed:
            feed.halt.set()
            feed.join()
        for k in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(k)
        client.close()


def run_service(name: str, url: str, runs: int, workdir: Path) -> dict[str, list[Timing]]:
    """Timings of ``runs`` restarts per way of restarting."""
    out: dict[str, list[Timing]] = {"new name": [], "same name": []}
    for mode, same in (("new name", False), ("same name", True)):
        out[mode] = [measure(name, url, same, workdir) for _ in range(runs)]
    return out


def show(name: str, mode: str, timings: list[Timing]) -> None:
    flowing = [t.flowing for t in timings if t.flowing is not None]
    up = [t.up for t in timings if t.up is not None]
    if not flowing:
        print(f"{name:<12} {mode:<10} {'-':>8} {'-':>8} {'-':>7}  no output within 60 s")
        return
    after = [t.flowing - t.up for t in timings if t.flowing is not None and t.up is not None]
    runs = " ".join(f"{f:.2f}" for f in flowing)
    up_s = f"{statistics.median(up):8.2f}" if up else f"{'-':>8}"
    after_s = f"{statistics.median(after):7.2f}" if after else f"{'-':>7}"
    print(f"{name:<12} {mode:<10} {statistics.median(flowing):8.2f} {up_s} {after_s}  {runs}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SCENARIOS)}")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    unknown = [s for s in a.services if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown service {unknown[0]}; choose from {', '.join(SCENARIOS)}")
    url = os.environ.get("QF_REDIS_URL", "redis://127.0.0.1:6379/0")
    print("seconds after SIGKILL (medians): flowing again, new process up (heartbeat), and the")
    print("difference (what the restart waits for beyond its own start); then every run's figure")
    print(f"{'service':<12} {'restart':<10} {'flowing':>8} {'up':>8} {'waited':>7}  runs")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.services or list(SCENARIOS):
            for mode, timings in run_service(name, url, a.runs, Path(tmp)).items():
                show(name, mode, timings)


if __name__ == "__main__":
    main()
