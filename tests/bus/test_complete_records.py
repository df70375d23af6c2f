"""Candle completeness, the broker's volume and capture marks in the records of the contract."""

from __future__ import annotations

from collections import Counter

import msgpack
import pytest

from quantumflux.bus import Candle, CaptureMark, HistoryBatch, Keys, RecordError, Tick, decode, pack
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.records import tick_runs

T0 = 1781423460


def test_a_candle_says_whether_it_is_complete_and_the_brokers_volume_only_when_known():
    live = Candle("EURUSD_otc", 60, T0, 1.1, 1.3, 1.0, 1.2, 57, True, complete=False)
    broker = Candle("EURUSD_otc", 60, T0, 1.1, 1.3, 1.0, 1.2, 0, True, complete=True, volume=98)
    live_map, broker_map = msgpack.unpackb(pack(live)), msgpack.unpackb(pack(broker))
    assert live_map["complete"] is False and "volume" not in live_map
    assert broker_map["complete"] is True and broker_map["volume"] == 98
    assert decode(pack(live)) == live
    assert decode(pack(broker)) == broker


def test_a_candle_from_a_writer_that_knew_no_completeness_is_complete():
    old = {"v": 1, "asset": "A", "tf": 60, "time": T0, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}
    old.update(ticks=3, closed=True)
    rec = decode(msgpack.packb(old))
    assert isinstance(rec, Candle) and rec.complete is True and rec.volume is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("complete", 1), ("complete", "yes"), ("volume", 1.5), ("volume", "98"), ("volume", True)],
)
def test_a_bad_completeness_or_volume_is_a_record_error(key, value):
    m = msgpack.unpackb(pack(Candle("A", 60, T0, 1.0, 1.0, 1.0, 1.0, 1, True)))
    m[key] = value
    with pytest.raises(RecordError) as err:
        decode(msgpack.packb(m))
    assert err.value.kind == "bad_field"


def test_history_carries_the_brokers_volume_when_it_has_one():
    batch = HistoryBatch("A", 60, candles=((T0, 1.1, 1.3, 1.0, 1.2, 97), (T0 + 60, 1.2, 1.3, 1.1, 1.2)))
    assert msgpack.unpackb(pack(batch))["candles"] == [
        [T0, 1.1, 1.3, 1.0, 1.2, 97],
        [T0 + 60, 1.2, 1.3, 1.1, 1.2],
    ]
    assert decode(pack(batch)) == batch
    # A float count without fraction is taken; a broken one makes the batch malformed.
    m = msgpack.unpackb(pack(batch))
    m["candles"][0][5] = 97.0
    assert decode(msgpack.packb(m)) == batch
    for bad in (-1, 1.5, "x", float("nan")):
        m["candles"][0][5] = bad
        with pytest.raises(RecordError):
            decode(msgpack.packb(m))


def test_capture_marks_round_trip_and_bad_ones_are_errors():
    for mark in (CaptureMark("start", 1781423460.25), CaptureMark("alive", 1781423461.0)):
        assert msgpack.unpackb(pack(mark)) == {"v": 1, "kind": "capture", "state": mark.state, "ts": mark.ts}
        assert decode(pack(mark)) == mark
    for bad in ({"state": "stop", "ts": 1.0}, {"state": "alive", "ts": "now"}, {"state": "start"}):
        with pytest.raises(RecordError) as err:
            decode(msgpack.packb({"v": 1, "kind": "capture", **bad}))
        assert err.value.kind == "bad_field"


def test_capture_marks_come_between_tick_runs_in_stream_order(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(2)
    start, alive = CaptureMark("start", 1.0), CaptureMark("alive", 3.0)
    client.xadd(stream, {"d": pack(start)})
    client.xadd(stream, {"d": pack(Tick("A", 1.5, 1.1))})
    client.xadd(stream, {"d": pack(Tick("A", 2.5, 1.2))})
    client.xadd(stream, {"d": pack(alive)})
    client.xadd(stream, {"d": msgpack.packb({"v": 1, "kind": "capture", "state": "paused", "ts": 4.0})})
    client.xadd(stream, {"d": pack(Tick("A", 4.5, 1.3))})
    client.set_response_callback("XRANGE", lambda r, **_kw: r)
    bad: Counter[str] = Counter()
    runs = tick_runs(client.execute_command("XRANGE", stream, "-", "+"), bad)
    assert runs == [start, [("A", 1.5, 1.1), ("A", 2.5, 1.2)], alive, [("A", 4.5, 1.3)]]
    assert bad == Counter(bad_field=1)
