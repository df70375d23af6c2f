"""At-least-once delivery: a consumer killed mid-batch leaves entries that another one claims."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from quantumflux.bus import Keys, Tick, pack
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.groups import ConsumerGroup


def test_a_killed_consumer_leaves_pending_entries_another_claims(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(2)
    ConsumerGroup(client, "workers", "boss", [stream]).ensure()
    sent = [Tick("GBPUSD_otc", 1781423526.0 + i / 2, 1.3 + i / 1e5) for i in range(50)]
    for t in sent:
        client.xadd(stream, {"d": pack(t)})

    # A real consumer process reads everything, then dies by SIGKILL before acknowledging.
    code = textwrap.dedent(
        f"""
        import sys, time, redis
        from quantumflux.bus.groups import ConsumerGroup
        c = redis.Redis.from_url({bus_settings.redis_url!r})
        g = ConsumerGroup(c, "workers", "doomed", [{stream!r}])
        n = len(g.read(count=1000, block_ms=1000))
        print(n, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "50"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    assert client.xpending(stream, "workers")["pending"] == 50
    survivor = ConsumerGroup(client, "workers", "survivor", [stream])
    assert survivor.read(count=1000, block_ms=50) == []  # nothing new: all were delivered
    time.sleep(0.1)
    claimed = survivor.claim_stale(min_idle_ms=50)
    assert [rec for _, rec in survivor.decode(claimed)] == sent
    survivor.ack(claimed)
    assert client.xpending(stream, "workers")["pending"] == 0


def test_own_pending_entries_are_read_again_after_a_restart(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(0)
    g = ConsumerGroup(client, "workers", "w1", [stream])
    g.ensure()
    client.xadd(stream, {"d": pack(Tick("A", 1781423526.0, 1.0))})
    first = g.read(block_ms=50)
    again = ConsumerGroup(client, "workers", "w1", [stream]).pending()
    assert [e.id for e in again] == [e.id for e in first]
