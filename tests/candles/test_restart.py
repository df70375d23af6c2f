"""Restarts under a stable name (QF_INSTANCE): a worker takes its own partitions back at once.

Every test kills or doubles real worker processes while ticks flow, then checks lease ownership
in Redis and that every bar is there exactly once.
"""

from __future__ import annotations

import signal
import time

import pytest

from quantumflux.bus.keys import Keys

from .support import (
    Producer,
    assert_same_bars,
    bars_by_key,
    closed_truth,
    done,
    events,
    publish,
    read_bars,
    sentinels_for,
    start_worker,
    stop_worker,
    synthetic,
    wait_for,
)

ASSETS = ["EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc", "ETHUSD", "EURGBP_otc", "USDCHF_otc"]
TFS = (5, 60)


def holders(client, prefix: str, partitions: int = 4) -> list[str | None]:
    """The lease value of every partition (None when free)."""
    keys = Keys(prefix)
    raw = client.mget([keys.private("candles", "lease", p) for p in range(partitions)])
    return [None if v is None else v.decode() for v in raw]


def all_held_by(client, prefix: str, owner: str) -> bool:
    return holders(client, prefix) == [owner] * 4


def env_of(test_env: dict[str, str], lease: float) -> dict[str, str]:
    # A long grace: the newest candles stay forming however slow the machine, so the ground
    # truth does not depend on the wall clock.
    return dict(test_env, QF_TIMEFRAMES="5s,1m", QF_CANDLES_LEASE=str(lease), QF_CLOSE_GRACE="3600")


def feed_once_held(rclient, prefix: str, ticks, pause: float) -> Producer:
    """Start the tick feed once the first worker holds every partition; return at its first bars,
    so whatever the test does next lands while ticks still come."""
    wait_for(lambda: all_held_by(rclient, prefix, "candles-1#1"), timeout=20, what="every partition")
    producer = Producer(rclient, prefix, ticks, chunk=300, pause=pause)
    producer.start()
    wait_for(lambda: read_bars(rclient, prefix, (5,)), timeout=30, what="first bars")
    return producer


def finish_and_check(rclient, prefix: str, ticks, producer: Producer) -> None:
    """Wait for the feed to end, close every candle, and compare the bars with the ground truth."""
    producer.join()
    sent = sentinels_for(ticks)
    publish(rclient, prefix, sent)
    want = closed_truth(ticks, TFS, sent)
    wait_for(lambda: done(rclient, prefix, TFS, want), timeout=90, what="every tick applied")
    assert_same_bars(bars_by_key(read_bars(rclient, prefix, TFS)), want)


@pytest.mark.slow
def test_same_name_restart_takes_its_partitions_back_long_before_the_lease_expires(
    rclient, prefix, test_env, tmp_path
):
    lease = 30.0
    env = env_of(test_env, lease)
    ticks = synthetic(ASSETS, 5000, seed=11)
    first = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE="candles-1")
    second = None
    try:
        producer = feed_once_held(rclient, prefix, ticks, pause=0.15)
        stop_worker(first, signal.SIGKILL)
        killed = time.monotonic()
        bars_at_kill = len(read_bars(rclient, prefix, TFS))
        assert producer.is_alive(), "the kill must land while ticks still come"
        second = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE="candles-1")
        wait_for(lambda: all_held_by(rclient, prefix, "candles-1#2"), timeout=lease, what="leases back")
        taken_after = time.monotonic() - killed
        # The dead worker's leases were renewed at most lease/3 before the kill: they would still
        # have run for two thirds of the lease. Taking them back at under half of it shows the
        # restart did not wait for them.
        assert taken_after < lease / 2, taken_after
        wait_for(
            lambda: len(read_bars(rclient, prefix, TFS)) > bars_at_kill, timeout=lease / 2, what="bars again"
        )
        finish_and_check(rclient, prefix, ticks, producer)
    finally:
        stop_worker(first, signal.SIGKILL)
        if second is not None:
            assert stop_worker(second) == 0


@pytest.mark.slow
def test_another_name_still_waits_for_the_dead_workers_leases(rclient, prefix, test_env, tmp_path):
    lease = 4.0
    env = env_of(test_env, lease)
    ticks = synthetic(ASSETS, 3000, seed=12)
    first = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE="candles-1")
    other = None
    try:
        producer = feed_once_held(rclient, prefix, ticks, pause=0.1)
        stop_worker(first, signal.SIGKILL)
        keys = Keys(prefix)
        left_ms = [rclient.pttl(keys.private("candles", "lease", p)) for p in range(4)]
        expires = time.monotonic() + min(left_ms) / 1000
        assert min(left_ms) > 0, left_ms
        other = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE="candles-2")

        def other_holds_one():
            return any(v is not None and v.startswith("candles-2#") for v in holders(rclient, prefix))

        wait_for(other_holds_one, timeout=lease * 3, every=0.05, what="the other worker taking a partition")
        # Never before the first of the dead worker's leases ran out (50 ms for the polling).
        assert time.monotonic() >= expires - 0.05, expires - time.monotonic()
        wait_for(lambda: all_held_by(rclient, prefix, "candles-2#1"), timeout=lease * 3, what="every lease")
        finish_and_check(rclient, prefix, ticks, producer)
    finally:
        stop_worker(first, signal.SIGKILL)
        if other is not None:
            assert stop_worker(other) == 0


@pytest.mark.slow
def test_two_live_processes_with_one_name_never_both_write(rclient, prefix, test_env, tmp_path):
    env = env_of(test_env, 30.0)
    ticks = synthetic(ASSETS, 4000, seed=13)
    older = start_worker(env, log=tmp_path / "older.log", QF_INSTANCE="candles-1")
    newer = None
    try:
        producer = feed_once_held(rclient, prefix, ticks, pause=0.1)
        assert producer.is_alive(), "the second process must start while ticks still come"
        newer = start_worker(env, log=tmp_path / "newer.log", QF_INSTANCE="candles-1")
        # The newer process fences the older: it takes every lease, and the older one stops.
        assert older.wait(timeout=30) == 1
        wait_for(lambda: all_held_by(rclient, prefix, "candles-1#2"), timeout=20, what="leases moved")
        fenced = [e for e in events(rclient, prefix) if e.get("problem") == "fenced"]
        assert len(fenced) == 1 and fenced[0]["instance"] == "candles-1"
        finish_and_check(rclient, prefix, ticks, producer)
        assert newer.poll() is None
    finally:
        stop_worker(older, signal.SIGKILL)
        if newer is not None:
            assert stop_worker(newer) == 0
