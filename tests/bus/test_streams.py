"""Trimming keeps what a group still needs; heartbeats show who is alive."""

from __future__ import annotations

import time

from quantumflux.bus import Keys, Tick, pack
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.groups import ConsumerGroup
from quantumflux.bus.health import Heartbeat, read_heartbeats
from quantumflux.bus.streams import groups, trim


def test_trim_never_drops_an_entry_a_group_has_not_acknowledged(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(0)
    g = ConsumerGroup(client, "slow", "c", [stream])
    g.ensure()
    for i in range(100):
        client.xadd(stream, {"d": pack(Tick("A", 1781423526.0 + i, 1.0))})
    first = g.read(count=30, block_ms=50)
    g.ack(first[:10])  # 20 delivered but not acknowledged, 70 never read
    result = trim(client, stream, hard_cap=1_000_000)
    assert result.removed == 10 and result.capped == 0
    assert client.xlen(stream) == 90
    info = groups(client, stream)[0]
    assert info.pending == 20 and info.lag == 70
    # Once everything is acknowledged, trimming may remove it all but what keep_min asks for.
    g.ack(first[10:])
    g.ack(g.read(count=1000, block_ms=50))
    trim(client, stream, hard_cap=1_000_000, keep_min=5)
    assert client.xlen(stream) == 5


def test_hard_cap_is_the_last_resort(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(1)
    ConsumerGroup(client, "stuck", "c", [stream]).ensure()
    for i in range(50):
        client.xadd(stream, {"d": pack(Tick("A", 1781423526.0 + i, 1.0))})
    result = trim(client, stream, hard_cap=20)
    assert result.removed == 0 and result.capped == 30
    assert client.xlen(stream) == 20


def test_heartbeat_appears_and_goes_away_on_stop(bus_settings):
    settings = bus_settings.model_copy(
        update={"heartbeat_interval": 0.1, "heartbeat_ttl": 0.5, "instance": "t-1"}
    )
    hb = Heartbeat(settings, "candles", info=lambda: {"ticks": 42}).start()
    client = connect_sync(settings)
    beats = read_heartbeats(client, Keys(settings.prefix))
    assert [(b["service"], b["instance"], b["ticks"]) for b in beats] == [("candles", "t-1", 42)]
    hb.stop()
    assert read_heartbeats(client, Keys(settings.prefix)) == []
    # A process that dies without stopping disappears when its TTL runs out.
    hb2 = Heartbeat(settings, "ingest")
    hb2.beat()
    time.sleep(0.7)
    assert read_heartbeats(client, Keys(settings.prefix)) == []


def test_heartbeat_reports_rates_of_its_counters(bus_settings):
    counter = {"ticks": 0}
    hb = Heartbeat(bus_settings, "ingest", info=lambda: dict(counter))
    t0 = time.monotonic()
    hb.beat()
    t1 = time.monotonic()
    counter["ticks"] = 50
    time.sleep(0.5)
    t2 = time.monotonic()
    hb.beat()
    t3 = time.monotonic()
    beat = read_heartbeats(connect_sync(bus_settings), Keys(bus_settings.prefix))[0]
    # 50 ticks over the time between the two beats, whatever a busy machine made of the sleep.
    assert 50 / (t3 - t0) * 0.99 <= beat["rates"]["ticks"] <= 50 / (t2 - t1) * 1.01
    hb.stop()
