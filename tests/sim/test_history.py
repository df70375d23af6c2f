"""Paged history from the simulated market: windows, formats, determinism, equality with live ticks."""

from __future__ import annotations

import itertools
from typing import Any

from quantumflux.bus.records import HistoryBatch
from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.sim.feed import SimFeed, as_frames
from quantumflux.sim.history import PAGE_CANDLES, RequestGate, history_reply, parse_request

START = 1781423520.0  # a whole minute, UTC
OFF = 7200  # the broker's clock runs this far ahead of UTC
ASSET = "EURUSD_otc"


def ask(feed: SimFeed, now: float, event: str = "loadHistoryPeriod", **req: Any) -> dict[str, Any]:
    body = {"asset": ASSET, "index": 178666390886, "time": 0, "offset": 9000, "period": 60} | req
    parsed = parse_request(event, body)
    assert parsed is not None
    symbol_id = feed.symbol_id(parsed.asset)
    assert symbol_id is not None
    return history_reply(
        parsed, feed.ticks_between, now=now, symbol_id=symbol_id, broker_offset=OFF, with_period=False
    )


def candles_from(ticks: list[tuple[float, float]], period: int) -> dict[int, dict[str, Any]]:
    """Candles in the broker's clock, built here from ticks (UTC) independently of the simulator."""
    out: dict[int, dict[str, Any]] = {}
    for t, p in ticks:
        b = int((t + OFF) // period * period)
        c = out.setdefault(b, {"time": b, "open": p, "close": p, "high": p, "low": p, "volume": 0})
        c["close"], c["high"], c["low"] = p, max(c["high"], p), min(c["low"], p)
        c["volume"] += 1
    return out


def test_a_page_is_150_candles_of_the_window_in_time_order() -> None:
    feed = SimFeed(seed=4, assets=2, start=START)
    now = START + 5
    feed.step(now)
    end = int(START + OFF - 3 * 3600)  # three hours before the start: the recomputed past
    body = ask(feed, now, time=end, offset=9000, period=60)
    assert body["asset"] == ASSET and body["index"] == 178666390886 and "period" not in body
    data = body["data"]
    assert len(data) == PAGE_CANDLES
    times = [c["time"] for c in data]
    assert times == list(range(end - 149 * 60, end + 1, 60))  # (time - offset, time], oldest first
    assert {c["symbol_id"] for c in data} == {66}
    lo = end - 9000 - OFF
    expect = candles_from(feed.ticks_between(ASSET, lo, end + 60 - OFF), 60)
    assert [{k: c[k] for k in expect[c["time"]]} for c in data] == [expect[t] for t in times]
    assert all(
        c["low"] <= min(c["open"], c["close"]) <= max(c["open"], c["close"]) <= c["high"] for c in data
    )
    assert 100 <= sum(c["volume"] for c in data) / len(data) <= 170  # about 2 ticks a second


def test_a_wide_window_gives_only_its_newest_150_and_a_start_on_a_candle_excludes_it() -> None:
    feed = SimFeed(seed=4, assets=1, start=START)
    end = int(START + OFF - 86400)
    wide = ask(feed, START, time=end, offset=60 * 400, period=60)["data"]
    assert [c["time"] for c in wide] == list(range(end - 149 * 60, end + 1, 60))
    short = ask(feed, START, time=end, offset=600, period=60)["data"]
    assert [c["time"] for c in short] == list(range(end - 540, end + 1, 60))  # end - 600 is outside
    five = ask(feed, START, time=end + 3, offset=50, period=5)["data"]
    assert [c["time"] for c in five] == list(range(end - 45, end + 1, 5))


def test_the_candle_still_forming_is_never_sent() -> None:
    feed = SimFeed(seed=2, assets=1, start=START)
    now = START + 150.5  # 30.5 s into the minute that began at START + 120
    feed.step(now)
    data = ask(feed, now, time=int(now + OFF) + 600, offset=1200, period=60)["data"]
    assert data[-1]["time"] == START + OFF + 60
    data = ask(feed, now, time=int(now + OFF), offset=100, period=10)["data"]
    assert data[-1]["time"] == START + OFF + 140  # the 10 s candle of START + 150 is forming


def test_fast_with_a_short_window_answers_ticks_the_other_candles() -> None:
    feed = SimFeed(seed=3, assets=1, start=START)
    now = START + 40
    live = feed.step(now)
    ticks = ask(feed, now, "loadHistoryPeriodFast", time=int(now + OFF) + 80, offset=100, period=5)["data"]
    # (time - offset, time] but nothing after now: the ticks the stream gave out, in the broker's clock
    expect = [(round(t.ts + OFF, 3), t.price) for t in live if t.ts > now + 80 - 100]
    assert [(d["time"], d["price"]) for d in ticks] == expect and len(expect) >= 30
    assert {d["asset"] for d in ticks} == {ASSET} and set(ticks[0]) == {"asset", "time", "price"}
    older = [
        d for d in ask(feed, now, "loadHistoryPeriodFast", time=int(START + OFF - 3600), offset=30)["data"]
    ]
    assert 50 <= len(older) <= 80 and all(START - 3630 < d["time"] - OFF <= START - 3600 for d in older)
    candles = ask(feed, now, "loadHistoryPeriodFast", time=int(START + OFF) - 60, offset=9000, period=60)[
        "data"
    ]
    plain = ask(feed, now, "loadHistoryPeriod", time=int(START + OFF) - 60, offset=9000, period=60)["data"]
    assert len(candles) == PAGE_CANDLES and candles == plain and "open" in candles[0]


def test_the_same_seed_gives_the_same_pages_and_another_seed_others() -> None:
    def page(seed: int) -> list[dict[str, Any]]:
        feed = SimFeed(seed=seed, assets=2, start=START)
        return ask(feed, START, time=int(START + OFF - 2 * 86400), offset=9000, period=60)["data"]

    first = page(9)
    assert page(9) == first and len(first) == PAGE_CANDLES
    assert [c["close"] for c in page(10)] != [c["close"] for c in first]


def test_a_minute_streamed_live_equals_its_history_candle() -> None:
    feed = SimFeed(seed=6, assets=3, start=START)
    now = START + 185
    live = [(t.ts, t.price) for t in feed.step(now) if t.asset == ASSET]
    built = candles_from(live, 60)
    body = ask(feed, now, time=int(now + OFF), offset=600, period=60)
    paged = {c["time"]: c for c in body["data"]}
    for minute in (START + OFF + 60, START + OFF + 120):  # both whole minutes the stream sent
        assert {k: paged[minute][k] for k in built[minute]} == built[minute]
    # the 1-minute candles the sim sends on changeSymbol agree with the pages too
    recent = feed.history_body(ASSET, 60)
    assert recent is not None
    for t, o, c, h, lo in recent["candles"][1:4]:
        assert (paged[t]["open"], paged[t]["close"], paged[t]["high"], paged[t]["low"]) == (o, c, h, lo)


def test_the_past_joins_the_live_path_without_jumps_three_days_back() -> None:
    feed = SimFeed(seed=8, assets=1, start=START)
    feed.step(START + 60)
    # across the join with the live walk (15 minutes before the start) and deep in the past
    for lo in (START - 1800, START - 3 * 86400 - 1800):
        ticks = feed.ticks_between(ASSET, lo, lo + 1800)
        assert 3300 <= len(ticks) <= 4400
        assert all(b[0] > a[0] for a, b in itertools.pairwise(ticks))
        assert max(abs(b[1] - a[1]) for a, b in itertools.pairwise(ticks)) <= 0.00025
        assert all(round(p, 5) == p and round(t, 3) == t for t, p in ticks)
    assert feed.ticks_between(ASSET, START - 8 * 86400, START - 7 * 86400 - 60) == []  # too deep


def test_the_decoder_reads_both_formats_of_a_page() -> None:
    feed = SimFeed(seed=5, assets=2, start=START)
    feed.step(START + 30)
    request = '42["loadHistoryPeriod",{"asset":"EURUSD_otc","index":7,"time":0,"offset":9000,"period":60}]'
    frames = [Frame(START + 30, "sent", "s", None, 1, request)]
    frames += as_frames(
        [("loadHistoryPeriod", ask(feed, START + 30, index=7, time=int(START + OFF)))],
        ts=START + 30,
        socket="s",
    )
    frames += as_frames(
        [
            (
                "loadHistoryPeriodFast",
                ask(
                    feed,
                    START + 30,
                    "loadHistoryPeriodFast",
                    index=8,
                    time=int(START + OFF),
                    offset=20,
                    period=5,
                )
                | {"period": 5},
            )
        ],
        ts=START + 30,
        socket="s",
    )
    dec = Decoder(broker_utc_offset=OFF)
    batches = [r for f in frames for r in dec.feed(f) if isinstance(r, HistoryBatch)]
    assert [(b.asset, b.period, len(b.candles), bool(b.ticks)) for b in batches] == [
        (ASSET, 60, 149, False),
        (ASSET, 5, 0, True),
    ]
    assert batches[0].candles[-1][0] == START - 60  # UTC, the minute before the start


def test_requests_a_page_cannot_serve_are_not_understood() -> None:
    good = {"asset": ASSET, "index": 1, "time": 1, "offset": 9000, "period": 60}
    assert parse_request("loadHistoryPeriod", good) is not None
    assert parse_request("changeSymbol", good) is None
    for bad in ({"period": 0}, {"offset": -5}, {"time": "x"}, {"index": None}, {"asset": 3}, {"period": 1.5}):
        assert parse_request("loadHistoryPeriod", good | bad) is None
    assert parse_request("loadHistoryPeriod", [good]) is None


def test_the_gate_drops_requests_closer_than_the_gap() -> None:
    gate = RequestGate(0.3)
    assert [gate.admit(t) for t in (10.0, 10.1, 10.29, 10.31, 10.5, 10.62)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]
