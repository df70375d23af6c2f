"""``qf candles`` as a service: heartbeat, status events, clean stop, a clear error, Redis outages."""

from __future__ import annotations

import signal
import subprocess
import sys

import redis

from .support import (
    ROOT,
    bars_by_key,
    done,
    events,
    heartbeats,
    publish,
    read_bars,
    start_worker,
    stop_worker,
    truth,
    wait_for,
)


def states(client, prefix):
    return [e.get("state") for e in events(client, prefix) if e.get("service") == "candles"]


def test_runs_as_a_service_and_stops_cleanly_on_sigterm(rclient, prefix, test_env, tmp_path):
    proc = start_worker(test_env, log=tmp_path / "w.log")
    try:
        beat = wait_for(lambda: heartbeats(rclient, prefix), timeout=20, what="heartbeat")[0]
        assert beat["timeframes"] == [60, 300, 900, 3600, 14400]
        wait_for(lambda: "running" in states(rclient, prefix), timeout=10, what="running")
    finally:
        assert stop_worker(proc, signal.SIGTERM) == 0
    assert states(rclient, prefix)[-1] == "stopped"
    assert heartbeats(rclient, prefix) == []  # gone at once, not after its expiry
    log = (tmp_path / "w.log").read_text()
    assert "Traceback" not in log


def test_unknown_setting_and_bad_timeframe_are_clear_errors(test_env):
    env = dict(test_env, QF_TIMEFRAME="1m")
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.candles"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "QF_TIMEFRAME" in out.stderr and "QF_TIMEFRAMES" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.candles", "--timeframes", "7m"],
        cwd=ROOT,
        env=test_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "7m is not supported" in out.stderr and "Traceback" not in out.stderr


def test_survives_a_redis_outage_and_continues_exactly(private_redis, test_env, tmp_path):
    client = redis.Redis.from_url(private_redis.url)
    prefix = test_env["QF_PREFIX"]
    env = dict(test_env, QF_REDIS_URL=private_redis.url, QF_TIMEFRAMES="1m", QF_CANDLES_LEASE="2")
    t0 = 1_781_438_400.0
    first = [("EURUSD_otc", t0 + k, 1.0 + k / 1000) for k in range(300)]
    second = [("EURUSD_otc", t0 + 300 + k, 2.0 + k / 1000) for k in range(300)]
    sentinel = [("EURUSD_otc", t0 + 50_000, 1.0)]
    publish(client, prefix, first)
    proc = start_worker(env, log=tmp_path / "w.log")
    try:
        wait_for(lambda: len(read_bars(client, prefix, (60,))) >= 4, timeout=20, what="first bars")
        private_redis.stop()
        log = tmp_path / "w.log"
        wait_for(lambda: "Redis is not reachable" in log.read_text(), timeout=20, what="the outage noticed")
        assert proc.poll() is None, "the worker died with Redis"
        private_redis.start()
        client = redis.Redis.from_url(private_redis.url)
        publish(client, prefix, second + sentinel)
        want = truth(first + second, (60,))
        wait_for(lambda: done(client, prefix, (60,), want), timeout=40, what="every tick applied")
        assert bars_by_key(read_bars(client, prefix, (60,))) == want
        wait_for(lambda: "recovered" in states(client, prefix), timeout=10, what="recovered event")
    finally:
        code = stop_worker(proc)
    assert code == 0
    said = log.read_text()
    assert "Traceback" not in said
    # Told in order: the outage, then the recovery from the saved state.
    assert said.index("Redis is not reachable") < said.index("Redis is back")
