"""Running the signals service as a real process and reading what it published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, Event, pack, unpack

ROOT = Path(__file__).resolve().parents[2]


def start(env: dict[str, str], log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """``python -m quantumflux.signals`` with the test's Redis and prefix and these QF_ settings."""
    full = dict(env)
    full.update({f"QF_{k.upper()}": v for k, v in settings.items()})
    full.setdefault("QF_HEARTBEAT_INTERVAL", "0.5")
    return subprocess.Popen(
        [sys.executable, "-m", "quantumflux.signals"],
        cwd=ROOT,
        env=full,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM and wait for a clean exit."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: a crash."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def publish_bars(client: redis.Redis, prefix: str, asset: str, rows, tf: int = 60) -> str:
    """Each candle as one closed bar on ``{prefix}:bars:{tf}``, one XADD each; the last id."""
    key = Keys(prefix).bars(tf)
    last = ""
    for t, o, h, lo, c, n in rows:
        rec = Candle(asset=asset, tf=tf, time=t, open=o, high=h, low=lo, close=c, ticks=n, closed=True)
        last = client.xadd(key, {"d": pack(rec)}).decode()
    return last


def publish_payouts(client: redis.Redis, prefix: str, payouts: dict[str, int]) -> str:
    """An ``assets`` event as ingest publishes it (payout in percent)."""
    ev = Event(
        "assets",
        time.time(),
        {"assets": [{"asset": a, "payout": p, "active": True} for a, p in payouts.items()]},
    )
    return client.xadd(Keys(prefix).events(), {"d": pack(ev)}).decode()


def applied(client: redis.Redis, prefix: str) -> dict[str, str]:
    """The last stream ids the service saved as applied."""
    raw = client.get(Keys(prefix).private("signals", "state"))
    if raw is None:
        return {}
    return dict(msgpack.unpackb(raw, raw=False).get("last_ids") or {})


def id_of(eid: str) -> tuple[int, int]:
    a, _, b = eid.partition("-")
    return int(a), int(b)


def wait_applied(
    client: redis.Redis, prefix: str, stream: str, last_id: str, proc=None, timeout: float = 90
) -> None:
    """Wait until the service saved ``last_id`` of ``stream`` as applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = applied(client, prefix).get(stream)
        if got and id_of(got) >= id_of(last_id):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the signals service exited with {proc.returncode}")
        time.sleep(0.1)
    raise AssertionError(f"the signals service did not get to {last_id} of {stream} in {timeout} s")


def read_stream(client: redis.Redis, key: str) -> list[dict]:
    """Every map on a stream, oldest first."""
    return [unpack(f[b"d"]) for _, f in client.xrange(key)]
