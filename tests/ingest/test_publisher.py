"""The publisher against a real Redis: partitions, order, outage buffering, the bound, trimming."""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

import redis

from quantumflux.bus.records import Event, Tick, decode
from quantumflux.ingest.config import IngestSettings
from quantumflux.ingest.publisher import Publisher
from tests.ingest.stack import wait_until

ASSETS = ["EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc", "USDJPY", "BTCUSD", "#AAPL_otc", "EURJPY_otc"]


def ticks_in(client: redis.Redis, prefix: str, partitions: int) -> dict[int, list[Tick]]:
    out: dict[int, list[Tick]] = {}
    for p in range(partitions):
        rows = client.xrange(f"{prefix}:ticks:{{{p}}}")
        out[p] = [decode(fields[b"d"]) for _id, fields in rows]  # type: ignore[misc]
    return out


def count_calls(obj: Any, method: str) -> list[float]:
    """Record the time of each call of ``obj.method`` (so a test waits for it, not for the clock)."""
    calls: list[float] = []
    real = getattr(obj, method)

    def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        finally:
            calls.append(time.monotonic())

    setattr(obj, method, counted)
    return calls


def make_ticks(n: int, start: float = 1_790_000_000.0) -> list[Tick]:
    return [Tick(ASSETS[i % len(ASSETS)], start + i * 0.25, 1.0 + i * 1e-5) for i in range(n)]


def test_ticks_go_to_their_asset_partition_in_order(
    redis_url: str, prefix: str, rclient: redis.Redis
) -> None:
    settings = IngestSettings(redis_url=redis_url, prefix=prefix, partitions=4, publish_batch=7)
    pub = Publisher(settings).start()
    ticks = make_ticks(500)
    for i in range(0, len(ticks), 13):
        pub.put_many(ticks[i : i + 13])
    pub.put(Event("platform_state", 1.0, {"asset": "EURUSD_otc", "period": 60}))
    assert pub.wait_idle(timeout=20)
    pub.stop()

    got = ticks_in(rclient, prefix, 4)
    for p, rows in got.items():
        for t in rows:
            assert zlib.crc32(t.asset.encode()) % 4 == p
    for asset in ASSETS:
        p = zlib.crc32(asset.encode()) % 4
        assert [t for t in got[p] if t.asset == asset] == [t for t in ticks if t.asset == asset]
    events = [decode(f[b"d"]) for _id, f in rclient.xrange(f"{prefix}:events")]
    assert events == [Event("platform_state", 1.0, {"asset": "EURUSD_otc", "period": 60})]
    assert pub.published == 501 and pub.dropped == 0


def test_redis_outage_keeps_everything_in_order_and_says_so(private_redis: Any, prefix: str) -> None:
    settings = IngestSettings(redis_url=private_redis.url, prefix=prefix, partitions=2, redis_retry_max=0.5)
    reports: list[tuple[str, str]] = []
    pub = Publisher(settings, report=lambda s, m, _e: reports.append((s, m))).start()
    ticks = make_ticks(3000)
    client = redis.Redis.from_url(private_redis.url)
    try:
        pub.put_many(ticks[:1000])
        assert pub.wait_idle(timeout=20)
        private_redis.stop()
        for i in range(1000, 2000, 10):  # a live capture keeps producing meanwhile
            pub.put_many(ticks[i : i + 10])
            time.sleep(0.002)
        wait_until(lambda: not pub.redis_up, what="the publisher to notice the outage")
        assert pub.buffered > 0
        private_redis.start()
        pub.put_many(ticks[2000:])
        assert pub.wait_idle(timeout=30)
        pub.stop()
        got = ticks_in(client, prefix, 2)
        for asset in ASSETS:
            p = zlib.crc32(asset.encode()) % 2
            assert [t for t in got[p] if t.asset == asset] == [t for t in ticks if t.asset == asset]
        assert pub.dropped == 0
        assert [s for s, _ in reports] == ["degraded", "recovered"]
        assert "not reachable" in reports[0][1] and "back" in reports[1][1]
    finally:
        client.close()


def test_buffer_bound_drops_the_oldest_and_counts_them(private_redis: Any, prefix: str) -> None:
    settings = IngestSettings(
        redis_url=private_redis.url, prefix=prefix, partitions=1, ingest_buffer=100, redis_retry_max=0.3
    )
    reports: list[tuple[str, str]] = []
    private_redis.stop()
    pub = Publisher(settings, report=lambda s, m, _e: reports.append((s, m))).start()
    ticks = make_ticks(250)
    pub.put(ticks[0])
    deadline = time.monotonic() + 10
    while pub.redis_up and time.monotonic() < deadline:  # the first send has failed
        time.sleep(0.02)
    for t in ticks[1:]:
        pub.put(t)
    assert pub.buffered == 100
    assert pub.dropped == 150
    private_redis.start()
    assert pub.wait_idle(timeout=30)
    pub.stop()
    client = redis.Redis.from_url(private_redis.url)
    try:
        got = ticks_in(client, prefix, 1)[0]
    finally:
        client.close()
    assert got == ticks[150:]  # the newest 100, in order
    assert reports[-1][0] == "recovered" and "150 oldest were dropped" in reports[-1][1]


def test_replay_mode_waits_for_room_instead_of_dropping(
    redis_url: str, prefix: str, rclient: redis.Redis
) -> None:
    settings = IngestSettings(redis_url=redis_url, prefix=prefix, partitions=3, ingest_buffer=10)
    pub = Publisher(settings, block_when_full=True).start()
    ticks = make_ticks(2000)
    producer = threading.Thread(target=lambda: [pub.put(t) for t in ticks])
    producer.start()
    producer.join(timeout=60)
    assert pub.wait_idle(timeout=20)
    pub.stop()
    got = ticks_in(rclient, prefix, 3)
    assert sum(len(v) for v in got.values()) == 2000
    assert pub.dropped == 0


def test_trimming_keeps_what_a_group_has_not_read(redis_url: str, prefix: str, rclient: redis.Redis) -> None:
    settings = IngestSettings(
        redis_url=redis_url,
        prefix=prefix,
        partitions=1,
        ticks_keep=0,
        ticks_maxlen=100_000,
        trim_interval=0.2,
    )
    key = f"{prefix}:ticks:{{0}}"
    ticks = make_ticks(300)
    pub = Publisher(settings)
    trims = count_calls(pub, "_trim")
    pub.start()
    pub.put_many(ticks[:200])
    assert pub.wait_idle(timeout=20)
    rclient.xgroup_create(key, "candles", id="0")
    read = rclient.xreadgroup("candles", "c1", {key: ">"}, count=120)
    ids = [eid for eid, _ in read[0][1]]
    rclient.xack(key, "candles", *ids[:100])  # 100 done, 20 read but pending, 80 not read
    wait_until(lambda: rclient.xlen(key) == 100, what="a trim to remove the acknowledged ticks")
    pub.put_many(ticks[200:])
    assert pub.wait_idle(timeout=20)
    after = len(trims)
    wait_until(lambda: len(trims) >= after + 2, what="two more trims")
    pub.stop()
    left = [decode(f[b"d"]) for _id, f in rclient.xrange(key)]
    assert left == ticks[100:]  # acknowledged ones gone, pending and unread kept


def test_replay_slows_down_rather_than_outrun_a_reader(
    redis_url: str, prefix: str, rclient: redis.Redis
) -> None:
    settings = IngestSettings(
        redis_url=redis_url,
        prefix=prefix,
        partitions=1,
        ingest_buffer=50,
        publish_batch=50,
        replay_max_lag=200,
    )
    key = f"{prefix}:ticks:{{0}}"
    rclient.xgroup_create(key, "candles", id="$", mkstream=True)
    pub = Publisher(settings, block_when_full=True)
    lag_checks = count_calls(pub, "_reader_lag")
    pub.start()
    ticks = make_ticks(1000)
    producer = threading.Thread(target=lambda: pub.put_many(ticks), daemon=True)
    producer.start()
    # The reader has read nothing: once 200 ticks wait for it, the replay waits too (however long
    # a busy machine takes to publish the first 200).
    deadline = time.monotonic() + 30
    while pub.waits_for_readers < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pub.waits_for_readers >= 1
    # It keeps asking and keeps waiting: nothing more reaches the stream meanwhile.
    asked = len(lag_checks)
    wait_until(lambda: len(lag_checks) >= asked + 5, what="the replay to ask about its reader again")
    assert rclient.xlen(key) < 400
    # The reader catches up; the replay goes on to the end, in order.
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 1000 and time.monotonic() < deadline:
        got = rclient.xreadgroup("candles", "c1", {key: ">"}, count=100, block=200) or []
        for _key, rows in got:
            for eid, fields in rows:
                seen.append(decode(fields[b"d"]))
                rclient.xack(key, "candles", eid)
    producer.join(timeout=10)
    pub.stop()
    assert seen == ticks


def test_a_record_the_bus_cannot_carry_is_counted_not_fatal(bus_settings):
    from quantumflux.bus import Event, Tick
    from quantumflux.ingest.config import IngestSettings
    from quantumflux.ingest.publisher import Publisher

    pub = Publisher(IngestSettings(redis_url=bus_settings.redis_url, prefix=bus_settings.prefix))
    pub.put_many([Tick("EURUSD_otc", 1781423526.5, 1.1), Event("platform_state", 1.0, {"period": 10**21})])
    assert pub.unpackable == 1 and pub.buffered == 1
