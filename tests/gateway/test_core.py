"""The gateway's pure parts: the per-browser outbox, stream requests, history seams, status."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantumflux.bus.records import Candle
from quantumflux.gateway.config import GatewaySettings, is_loopback
from quantumflux.gateway.outbox import Message, Outbox
from quantumflux.gateway.rooms import CandleBook, Catalog, Snapshot, Stream, StreamRequestError, merge_history
from quantumflux.gateway.server import GatewayConfigError, check_settings
from quantumflux.gateway.status import build_status, shape


def candle(t: int, closed: bool, close: float = 1.0, asset: str = "EURUSD_otc", tf: int = 60) -> Candle:
    return Candle(asset, tf, t, 1.0, 2.0, 0.5, close, 1, closed)


def put_candle(box: Outbox, c: Candle) -> None:
    key = ("c", c.asset, c.tf)
    if c.closed:
        box.supersede(key)
    box.put(Message("candle_update", c, None if c.closed else key), now=0.0)


def drain(box: Outbox) -> list[Candle]:
    out = []
    while (m := box.pop(0.0)) is not None:
        out.append(m.body)
    return out


def test_forming_updates_are_coalesced_to_the_latest_and_closed_ones_kept():
    box = Outbox(limit=100, patience=5)
    for i in range(10):
        put_candle(box, candle(60, False, close=i))
    put_candle(box, candle(60, True, close=10))
    put_candle(box, candle(120, False, close=11))
    put_candle(box, candle(120, False, close=12))
    got = drain(box)
    assert [(c.time, c.closed, c.close) for c in got] == [(60, True, 10), (120, False, 12)]
    assert box.counts.coalesced == 11  # 9 + 1 replaced in place, 1 superseded by the close


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.booleans()), min_size=1, max_size=60))
def test_a_slow_reader_sees_every_closed_candle_in_order_and_never_an_older_candle(updates):
    # Build a realistic sequence per asset: forming updates, then the close, then the next candle.
    box = Outbox(limit=10_000, patience=5)
    t = {"A": 0, "B": 0}
    sent: list[Candle] = []
    for asset, closes in updates:
        c = candle(t[asset], closes, asset=asset)
        sent.append(c)
        put_candle(box, c)
        if closes:
            t[asset] += 60
    got = drain(box)
    for asset in "AB":
        mine = [c for c in got if c.asset == asset]
        assert [c for c in mine if c.closed] == [c for c in sent if c.asset == asset and c.closed]
        times = [c.time for c in mine]
        assert times == sorted(times)
        last_sent = [c for c in sent if c.asset == asset]
        if last_sent:
            assert mine[-1] == last_sent[-1]  # the newest state always arrives


def test_slow_verdict_on_overflow_and_on_staying_behind():
    box = Outbox(limit=10, patience=2.0)
    for i in range(6):
        box.put(Message("x", i), now=100.0)
    assert box.verdict(101.0) is None
    assert "too slow" in (box.verdict(102.5) or "")
    box = Outbox(limit=10, patience=100)
    for i in range(11):
        box.put(Message("x", i), now=0.0)
    assert "limit is 10" in (box.verdict(0.0) or "")
    assert box.clear() == 11 and box.counts.dropped == 11


def test_catalog_resolves_labels_and_seconds_and_explains_unknowns():
    cat = Catalog(produced={60, 300}, streams={5}, seen={"EURUSD_otc"})
    assert cat.resolve("EURUSD_otc", "1m") == Stream("EURUSD_otc", 60)
    assert cat.resolve("EURUSD_otc", 300).timeframe == "5m"
    assert cat.resolve("EURUSD_otc", "5s").tf == 5
    for asset, tf, code in [
        ("EURUSD_otc", "1h", "unknown_timeframe"),
        ("GBPUSD", "1m", "unknown_asset"),
        ("EURUSD_otc", "soon", "bad_timeframe"),
        ("", "1m", "bad_request"),
        ("EURUSD_otc", None, "bad_request"),
    ]:
        with pytest.raises(StreamRequestError) as err:
            cat.resolve(asset, tf)
        assert err.value.code == code and err.value.message


def test_history_joins_stored_and_recent_candles_without_gap_or_twin():
    stored = [candle(t, True) for t in (0, 60, 120)]
    # The relay saw 120 and 180 closed (180 not yet stored) and 240 forming.
    snap = Snapshot(recent=[candle(120, True), candle(180, True)], forming=candle(240, False))
    rows, last = merge_history(stored, snap, limit=10)
    assert [(c.time, c.closed) for c in rows] == [
        (0, True),
        (60, True),
        (120, True),
        (180, True),
        (240, False),
    ]
    assert last == 180
    rows, _ = merge_history(stored, snap, limit=2)
    assert [c.time for c in rows] == [120, 180, 240]


def test_candle_book_keeps_latest_forming_and_drops_stale_updates():
    book = CandleBook()
    book.observe(candle(0, False, close=1))
    book.observe(candle(0, False, close=2))
    assert book.snapshot(Stream("EURUSD_otc", 60)).forming.close == 2
    book.observe(candle(0, True, close=3))
    snap = book.snapshot(Stream("EURUSD_otc", 60))
    assert snap.forming is None and [c.close for c in snap.recent] == [3]
    book.observe(candle(0, False, close=9))  # late forming update of a closed candle
    assert book.snapshot(Stream("EURUSD_otc", 60)).forming is None


def test_status_lists_services_and_marks_vanished_ones_not_alive():
    hbs = [
        {"service": "candles", "instance": "a", "ts": 5.0},
        {"service": "candles", "instance": "b", "ts": 7.0},
    ]
    s1 = build_status(True, hbs, {"state": "connected", "ts": 1.0})
    assert s1["services"]["candles"] == {"alive": True, "instances": 2, "last_seen": 7.0}
    assert s1["chrome"]["state"] == "connected" and s1["redis"] == "connected"
    s2 = build_status(True, [], None, s1["services"])
    assert s2["services"]["candles"]["alive"] is False
    assert shape(s1) != shape(s2)
    hbs2 = [
        {"service": "candles", "instance": "a", "ts": 9.0},
        {"service": "candles", "instance": "b", "ts": 9.0},
    ]
    assert shape(build_status(True, hbs2, {"state": "connected"})) == shape(s1)


def test_token_is_required_beyond_loopback_and_origins_default_to_own():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(GatewayConfigError, match="QF_API_TOKEN"):
        check_settings(GatewaySettings(gateway_host="0.0.0.0"))
    check_settings(GatewaySettings(gateway_host="0.0.0.0", api_token="s3cret"))
    check_settings(GatewaySettings())
    assert "http://127.0.0.1:3001" in GatewaySettings().origins()
    assert GatewaySettings(allowed_origins="http://a:1, http://b:2/").origins() == [
        "http://a:1",
        "http://b:2",
    ]
