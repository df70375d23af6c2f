"""Records through a real Redis stream and consumer group, and the codec's handling of bad entries."""

from __future__ import annotations

import math
from collections import Counter

import msgpack
import pytest

from quantumflux.bus import (
    Candle,
    Event,
    HistoryBatch,
    Keys,
    Order,
    PaperContract,
    RecordError,
    Signal,
    Tick,
    decode,
    pack,
)
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.groups import ConsumerGroup
from quantumflux.bus.records import tick_runs

RECORDS = [
    Tick("EURUSD_otc", 1781423526.562, 1.33319),
    HistoryBatch("EURUSD_otc", 60, candles=((1781423460, 1.1, 1.3, 1.0, 1.2),), ticks=((1781423459.5, 1.1),)),
    Candle("EURUSD_otc", 60, 1781423460, 1.1, 1.3, 1.0, 1.2, 17, True),
    Event("platform_state", 1781423526.0, {"asset": "EURUSD_otc", "period": 60}),
]

RUN = "sma_cross(fast=3)"
BOOK = f"{RUN}@EURUSD_otc:1m"
SIGNAL = Signal(
    id=f"{BOOK}#1781423460",
    asset="EURUSD_otc",
    timeframe=60,
    time=1781423460,
    direction=-1,
    confidence=0.75,
    strategy="sma_cross",
    params={"fast": 3, "slow": 20},
    run=RUN,
    price=1.2,
    contract=f"{BOOK}#1781423460",
    ts=1781423521.5,
)
OPEN = PaperContract(
    kind="open",
    id=f"{BOOK}#1781423460",
    book=BOOK,
    run=RUN,
    asset="EURUSD_otc",
    timeframe=60,
    direction=-1,
    confidence=0.75,
    entry_time=1781423460,
    entry_price=1.2,
    expiry_time=1781423520,
    stake=1.0,
    payout=0.92,
    balance=1000.0,
    trades=0,
    wins=0,
    losses=0,
    ties=0,
    voided=0,
    total_pnl=0.0,
    strategy="sma_cross",
    params={"fast": 3, "slow": 20},
    ts=1781423521.5,
)
SETTLE = PaperContract(
    **{
        **{k: getattr(OPEN, k) for k in OPEN.__slots__},
        "kind": "settle",
        "expiry_price": 1.19,
        "outcome": 1,
        "pnl": 0.92,
        "balance": 1000.92,
        "trades": 1,
        "wins": 1,
        "total_pnl": 0.92,
    }
)
VOID = PaperContract(
    **{
        **{k: getattr(OPEN, k) for k in OPEN.__slots__},
        "kind": "void",
        "reason": "gap",
        "at_time": 1781423580,
    }
)
ORDER = Order(
    request_id="r-1",
    asset="EURUSD_otc",
    action="call",
    amount=5.0,
    expiry=60,
    mode="demo",
    state="closed",
    deal_id="d-9",
    open_price=1.1,
    close_price=1.2,
    profit=4.6,
    ts=1781423521.5,
)
TRADING = [SIGNAL, OPEN, SETTLE, VOID, ORDER]


def test_records_round_trip_through_a_consumer_group(bus_settings):
    client = connect_sync(bus_settings)
    keys = Keys(bus_settings.prefix)
    stream = keys.ticks(0)
    group = ConsumerGroup(client, "g", "c1", [stream])
    group.ensure()
    group.ensure()  # idempotent
    for rec in RECORDS + TRADING:
        client.xadd(stream, {"d": pack(rec)})
    entries = group.read(count=100, block_ms=100)
    got = [rec for _, rec in group.decode(entries)]
    assert got == RECORDS + TRADING
    assert group.ack(entries) == len(RECORDS + TRADING)
    assert client.xpending(stream, "g")["pending"] == 0


def test_every_map_carries_the_schema_version():
    for rec in RECORDS + TRADING:
        assert msgpack.unpackb(pack(rec))["v"] == 1


# The keys of docs/signals.md, in the order the signals service has always written them.
SIGNAL_WIRE = "v id asset timeframe label time direction confidence strategy params run price contract ts"
PAPER_HEAD = (
    "v kind id book run asset timeframe direction confidence entry_time entry_price expiry_time stake payout"
)
PAPER_TAIL = "balance trades wins losses ties voided total_pnl strategy params label ts"


@pytest.mark.parametrize(
    ("record", "keys"),
    [
        (SIGNAL, SIGNAL_WIRE),
        (OPEN, f"{PAPER_HEAD} {PAPER_TAIL}"),
        (SETTLE, f"{PAPER_HEAD} expiry_price outcome pnl {PAPER_TAIL}"),
        (VOID, f"{PAPER_HEAD} reason at_time {PAPER_TAIL}"),
    ],
)
def test_trading_records_keep_the_published_keys(record, keys):
    wire = msgpack.unpackb(pack(record))
    assert list(wire) == keys.split()
    assert wire["label"] == "1m"


def test_an_order_carries_every_field_of_the_contract():
    wire = msgpack.unpackb(pack(ORDER))
    assert wire["kind"] == "order"
    order_keys = (
        "v kind request_id asset action amount expiry mode state deal_id open_price close_price profit"
    )
    assert set(wire) == {*order_keys.split(), "reason", "ts", "signal"}


@pytest.mark.parametrize(
    ("record", "key", "value"),
    [
        (SIGNAL, "direction", 0),
        (SIGNAL, "params", [1, 2]),
        (SETTLE, "outcome", 0.5),
        (OPEN, "kind", "opened"),
        (ORDER, "action", "buy"),
        (ORDER, "state", "sent"),
    ],
)
def test_a_bad_trading_field_is_a_record_error(record, key, value):
    wire = msgpack.unpackb(pack(record))
    wire[key] = value
    with pytest.raises(RecordError) as err:
        decode(msgpack.packb(wire))
    assert err.value.kind in ("bad_field", "unknown_kind")


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


def test_tick_entries_fold_in_stream_order_with_history_between_runs(bus_settings):
    client = connect_sync(bus_settings)
    stream = Keys(bus_settings.prefix).ticks(1)
    history = HistoryBatch("EURUSD_otc", 60, candles=((1781423460, 1.1, 1.3, 1.0, 1.2),))
    client.xadd(stream, {"d": pack(Tick("EURUSD_otc", 1.5, 1.1))})
    client.xadd(stream, {"d": pack(Tick("EURUSD_otc", 2.5, 1.2))})
    client.xadd(stream, {"d": b"\xc1"})
    client.xadd(stream, {"d": pack(history)})
    client.xadd(stream, {"x": b"no d", "y": b"1"})
    client.xadd(stream, {"d": msgpack.packb({"v": 99, "kind": "tick"})})
    client.xadd(stream, {"d": msgpack.packb({"v": 1, "kind": "history", "asset": "", "period": 60})})
    client.xadd(stream, {"d": msgpack.packb({"v": 1, "kind": "quote"})})
    client.xadd(stream, {"x": b"first", "d": pack(Tick("GBPUSD_otc", 3.5, "odd"))})
    # The raw reply the candle worker reads: [id, [field, value, …]] per entry.
    client.set_response_callback("XRANGE", lambda r, **_kw: r)
    raw = client.execute_command("XRANGE", stream, "-", "+")
    bad: Counter[str] = Counter()
    runs = tick_runs(raw, bad)
    assert runs == [
        [("EURUSD_otc", 1.5, 1.1), ("EURUSD_otc", 2.5, 1.2)],
        history,
        [("GBPUSD_otc", 3.5, "odd")],  # unchecked: the fold counts a bad price
    ]
    assert bad == Counter(bad_entry=2, unknown_version=1, bad_field=1, unknown_kind=1)
