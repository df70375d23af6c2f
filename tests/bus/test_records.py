"""Records through a real Redis stream and consumer group, and the codec's handling of bad entries."""

from __future__ import annotations

import math

import msgpack
import pytest

from services.bus import Candle, Event, HistoryBatch, Keys, RecordError, Tick, decode, pack
from services.bus.connection import connect_sync
from services.bus.groups import ConsumerGroup

RECORDS = [
    Tick("EURUSD_otc", 1781423526.562, 1.33319),
    HistoryBatch("EURUSD_otc", 60, candles=((1781423460, 1.1, 1.3, 1.0, 1.2),), ticks=((1781423459.5, 1.1),)),
    Candle("EURUSD_otc", 60, 1781423460, 1.1, 1.3, 1.0, 1.2, 17, True),
    Event("platform_state", 1781423526.0, {"asset": "EURUSD_otc", "period": 60}),
]


def test_records_round_trip_through_a_consumer_group(bus_settings):
    client = connect_sync(bus_settings)
    keys = Keys(bus_settings.prefix)
    stream = keys.ticks(0)
    group = ConsumerGroup(client, "g", "c1", [stream])
    group.ensure()
    group.ensure()  # idempotent
    for rec in RECORDS:
        client.xadd(stream, {"d": pack(rec)})
    entries = group.read(count=100, block_ms=100)
    got = [rec for _, rec in group.decode(entries)]
    assert got == RECORDS
    assert group.ack(entries) == len(RECORDS)
    assert client.xpending(stream, "g")["pending"] == 0


def test_every_map_carries_the_schema_version():
    for rec in RECORDS:
        assert msgpack.unpackb(pack(rec))["v"] == 1


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"\xc1", "not_msgpack"),
        (msgpack.packb([1, 2]), "not_a_map"),
        (msgpack.packb({"v": 99, "kind": "tick"}), "unknown_version"),
        (msgpack.packb({"v": 1, "kind": "tick", "asset": "A", "ts": "x", "price": 1.0}), "bad_field"),
        (msgpack.packb({"v": 1, "kind": "tick", "asset": "A", "ts": math.nan, "price": 1.0}), "bad_field"),
        (
            msgpack.packb({"v": 1, "kind": "history", "asset": "A", "period": 60, "candles": [[1]]}),
            "bad_field",
        ),
        (msgpack.packb({"v": 1, "what": 1}), "unknown_kind"),
        (msgpack.packb({"v": 1, 1: 2, "a": 3}), "unknown_kind"),  # keys of mixed types
    ],
)
def test_malformed_entries_raise_a_clear_error(raw, kind):
    with pytest.raises(RecordError) as err:
        decode(raw)
    assert err.value.kind == kind
    assert str(err.value)


def test_a_malformed_entry_is_counted_and_skipped(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(1)
    group = ConsumerGroup(client, "g", "c1", [stream])
    group.ensure()
    client.xadd(stream, {"d": pack(RECORDS[0])})
    client.xadd(stream, {"d": b"garbage"})
    client.xadd(stream, {"x": b"no d field"})
    client.xadd(stream, {"d": msgpack.packb({"v": 7})})
    client.xadd(stream, {"d": pack(RECORDS[2])})
    entries = group.read(count=100, block_ms=100)
    got = [rec for _, rec in group.decode(entries)]
    assert got == [RECORDS[0], RECORDS[2]]
    assert group.errors == {"not_msgpack": 1, "no_d_field": 1, "unknown_version": 1}
