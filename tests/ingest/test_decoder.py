"""The decoder on frames shaped exactly as the protocol notes show them, and on real ticks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from quantumflux.bus import records
from quantumflux.bus.records import Event, HistoryBatch, Tick
from quantumflux.ingest.decode import DEFAULT_WS_URL_PATTERN, Decoder
from quantumflux.ingest.frames import Frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
OFFSET = 7200


def load(name: str) -> list[Frame]:
    with (FIXTURES / name).open() as f:
        return [Frame.from_json(json.loads(line)) for line in f if line.strip()]


def decode(frames: list[Frame], **kw: object) -> tuple[list[object], Decoder]:
    dec = Decoder(**kw)  # type: ignore[arg-type]
    out: list[object] = []
    for frame in frames:
        out.extend(dec.feed(frame))
    return out, dec


def ticks(out: list[object]) -> list[tuple[str, float, float]]:
    return [(r.asset, r.ts, r.price) for r in out if isinstance(r, Tick)]


def of_type(out: list[object], kind: str) -> list[Event]:
    return [r for r in out if isinstance(r, Event) and r.type == kind]


# ---------------------------------------------------------------------- the real recording


def test_sample_recording_gives_the_real_ticks_in_utc(po_data: Path) -> None:
    frames = [Frame.from_json(json.loads(line)) for line in (po_data / "sample-recording.jsonl").open()]
    real = json.loads((po_data / "po-gbpusd-otc-ticks-2026-06-a.json").read_text())[:300]
    out, dec = decode(frames)
    assert ticks(out) == [("GBPUSD_otc", t - 7200, p) for t, p in real]
    assert dec.counters["ticks"] == 300
    assert not [k for k in dec.counters if k.startswith(("malformed", "unknown"))]
    [state] = of_type(out, "platform_state")
    assert state.data == {"asset": "GBPUSD_otc", "period": 60, "source": "changeSymbol"}


def tick_frames(real: list[list[float]], asset: str, socket: str, url: str | None) -> list[Frame]:
    """The broker's two frames per tick, rebuilt from real values; captured 0.3 s after quoting."""
    frames = []
    for t, p in real:
        wall = t - OFFSET + 0.3
        body = json.dumps([[asset, t, p]], separators=(",", ":")).encode()
        frames.append(
            Frame(wall, "recv", socket, url, 1, '451-["updateStream",{"_placeholder":true,"num":0}]')
        )
        frames.append(Frame(wall + 0.0002, "recv", socket, url, 2, base64.b64encode(body).decode()))
    return frames


def test_frames_rebuilt_from_both_real_tick_files(po_data: Path) -> None:
    a = json.loads((po_data / "po-gbpusd-otc-ticks-2026-06-a.json").read_text())
    b = json.loads((po_data / "po-gbpusd-otc-ticks-2026-06-b.json").read_text())
    url = "wss://api-us-north.po.market/socket.io/?EIO=4&transport=websocket"
    out, dec = decode(tick_frames(a, "GBPUSD_otc", "s1", url) + tick_frames(b, "GBPUSD_otc", "s2", None))
    expected = [("GBPUSD_otc", t - 7200, p) for t, p in a + b]
    assert ticks(out) == expected
    assert dec.counters["frames"] == 2 * len(expected)


def test_given_offset_is_used_instead_of_measuring(po_data: Path) -> None:
    a = json.loads((po_data / "po-gbpusd-otc-ticks-2026-06-a.json").read_text())[:5]
    out, dec = decode(tick_frames(a, "GBPUSD_otc", "s", None), broker_utc_offset=3600)
    assert ticks(out) == [("GBPUSD_otc", t - 3600, p) for t, p in a]
    assert dec.counters["offset_measured"] == 0


def test_offset_is_measured_per_socket_and_rounded_to_half_hours() -> None:
    # A socket whose capture clock lags by 20 minutes still measures +7200 (nearest 30 minutes);
    # another socket in winter measures +3600.
    summer = tick_frames([[1781430720.5, 1.1]], "A_otc", "s", None)
    summer = [Frame(f.ts - 1200 + 900, f.dir, f.socket, f.url, f.opcode, f.payload) for f in summer]
    winter = [
        Frame(f.ts + 3600, f.dir, f.socket, f.url, f.opcode, f.payload)
        for f in tick_frames([[1781430721.0, 1.2]], "B_otc", "w", None)
    ]
    out, _ = decode(summer + winter)
    assert ticks(out) == [("A_otc", 1781430720.5 - 7200, 1.1), ("B_otc", 1781430721.0 - 3600, 1.2)]


# ---------------------------------------------------------------------- history


def test_update_history_new_fast_candles_newest_first_with_volume() -> None:
    out, dec = decode(load("history-fast.jsonl"))
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.asset == "AUDCAD_otc" and batch.period == 60
    # [t, open, close, high, low, volume], newest-first  ->  [t, open, high, low, close, volume], by time
    assert batch.candles == (
        (1781430600 - OFFSET, 0.89163, 0.89271, 0.89149, 0.89181, 95),
        (1781430660 - OFFSET, 0.89181, 0.89195, 0.8918, 0.8919, 110),
        (1781430720 - OFFSET, 0.89188, 0.89188, 0.89188, 0.89188, 1),
    )
    assert batch.ticks[0] == (1781430600.465 - OFFSET, 0.89163)
    assert batch.ticks[-1] == (1781430719.61 - OFFSET, 0.89188)
    assert len(batch.ticks) == 5
    [loaded] = of_type(out, "history_loaded")
    assert loaded.data == {"asset": "AUDCAD_otc", "period": 60, "candles": 3, "ticks": 5}
    assert ticks(out) == [("AUDCAD_otc", 1781430721.062 - OFFSET, 0.89189)]
    assert dec.counters["history"] == 1


def test_update_history_new_without_period_takes_the_last_change_symbol() -> None:
    out, _ = decode(load("history-old.jsonl"))
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.period == 300
    assert batch.candles == (
        (1781430000 - OFFSET, 1.14361, 1.14402, 1.1433, 1.1437),
        (1781430300 - OFFSET, 1.1437, 1.14381, 1.14349, 1.14355),
    )
    assert batch.ticks == ()


def test_candle_rows_in_ohlc_order_are_recognised_when_the_broker_order_cannot_be_right() -> None:
    body = {
        "asset": "X_otc",
        "period": 60,
        "history": [],
        # [t, o, h, l, c]: read as [t, o, c, h, l] this has high 1.0 below open 1.2
        "candles": [[1781430600, 1.2, 1.5, 1.0, 1.3]],
    }
    frames = [
        Frame(1.0, "recv", "s", None, 1, '451-["updateHistoryNewFast",{"_placeholder":true,"num":0}]'),
        Frame(1.0, "recv", "s", None, 2, base64.b64encode(json.dumps(body).encode()).decode()),
    ]
    out, dec = decode(frames, broker_utc_offset=7200)
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.candles == ((1781430600 - 7200, 1.2, 1.5, 1.0, 1.3),)
    assert dec.counters["candle_layout_ohlc"] == 1


def test_load_history_period_objects_with_and_without_period() -> None:
    out, _ = decode(load("paged-history.jsonl"))
    batches = [r for r in out if isinstance(r, HistoryBatch)]
    assert [(b.asset, b.period) for b in batches] == [("AUDUSD_otc", 60), ("AUDNZD_otc", 60)]
    # The broker's volume follows the candle when it sent one; the echoed index names the request.
    assert batches[0].candles == (
        (1781430600 - OFFSET, 0.70401, 0.70411, 0.70388, 0.70396, 87),
        (1781430660 - OFFSET, 0.70396, 0.70406, 0.7036, 0.70362, 90),
    )
    assert batches[1].candles == ((1781430600 - OFFSET, 1.08567, 1.08586, 1.08475, 1.08553),)
    assert [b.index for b in batches] == [178666390886, 171201484810]
    # and both travel on the bus: the index only when the broker named one
    assert [records.decode(records.pack(b)) for b in batches] == batches
    assert "index" not in records.HistoryBatch("X", 60).to_map()
    assert [e.data["candles"] for e in of_type(out, "history_loaded")] == [2, 1]


# ---------------------------------------------------------------------- sockets


def test_interleaved_sockets_keep_their_own_pairing_and_other_hosts_are_ignored() -> None:
    out, dec = decode(load("multi-socket.jsonl"))
    assert ticks(out) == [
        ("EURUSD_otc", 1781430720.343 - OFFSET, 1.14361),
        ("GBPUSD_otc", 1781430720.412 - OFFSET, 1.33319),
        ("EURUSD_otc", 1781430720.843 - OFFSET, 1.14362),
        ("EURUSD_otc", 1781430720.843 - OFFSET, 1.14362),
        ("GBPUSD_otc", 1781430720.912 - OFFSET, 1.3332),
    ]
    [balance] = of_type(out, "balance")
    assert balance.data == {"balance": 9606.02, "is_demo": True}
    # the chat host's frames, even one that looks like a tick, never become records
    assert all(r.price < 9 for r in out if isinstance(r, Tick))
    assert dec.counters["ignored_socket"] >= 5


def test_sockets_without_url_are_recognised_by_their_content() -> None:
    out, dec = decode(load("pre-attach.jsonl"))
    assert ticks(out) == [
        ("EURUSD_otc", 1781430720.123 - OFFSET, 1.14361),  # an unannounced tick body
        ("EURUSD_otc", 1781430720.5 - OFFSET, 1.14362),  # two rows in one frame
        ("GBPUSD_otc", 1781430720.51 - OFFSET, 1.3332),
        ("EURUSD_otc", 1781430721.0 - OFFSET, 1.14363),  # the flat form
        ("EURUSD_otc", 1781430721.5 - OFFSET, 1.14364),  # milliseconds
    ]
    assert [e.data for e in of_type(out, "platform_state")] == [
        {"asset": "GBPUSD_otc", "period": 30, "source": "changeSymbol"}
    ]
    assert dec.counters["ignored_socket"] == 3  # the chat-like socket's three frames
    assert dec.counters["unannounced_binary"] == 1


def test_socket_closed_forgets_a_pending_header() -> None:
    dec = Decoder()
    url = "ws://127.0.0.1:8765/socket.io/?EIO=4&transport=websocket"
    dec.feed(Frame(1.0, "recv", "s", url, 1, '451-["updateStream",{"_placeholder":true,"num":0}]'))
    dec.socket_closed("s")
    body = base64.b64encode(b'{"foo": 1}').decode()
    assert dec.feed(Frame(2.0, "recv", "s", url, 2, body)) == []
    assert dec.counters["unknown_binary"] == 1


@pytest.mark.parametrize(
    ("url", "broker"),
    [
        ("wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket", True),
        ("wss://demo-api-eu.po.market/socket.io/?EIO=4&transport=websocket", True),
        ("wss://try-demo-eu.po.market/socket.io/?EIO=4&transport=websocket", True),
        ("wss://api-us-north.po.market/socket.io/?EIO=4&transport=websocket", True),
        ("ws://127.0.0.1:8765/socket.io/?EIO=4&transport=websocket", True),
        ("ws://localhost:40123/socket.io/?EIO=4&transport=websocket", True),
        ("wss://chat-po.site/cabinet-client/socket.io/?EIO=4&transport=websocket", False),
        ("wss://events-po.com/socket.io/?EIO=4&transport=websocket", False),
        ("wss://po.market.evil.example/socket.io/", False),
    ],
)
def test_default_url_pattern(url: str, broker: bool) -> None:
    import re

    assert (re.search(DEFAULT_WS_URL_PATTERN, url) is not None) is broker


def test_quantumflux_own_chart_socket_is_never_taken_for_the_broker() -> None:
    # The web app marks its connections; on loopback they would match the simulator's pattern.
    dec = Decoder()
    body = base64.b64encode(b'[["EURUSD_otc",1795835100.5,1.1]]').decode()
    for i, url in enumerate(
        [
            "ws://127.0.0.1:8000/socket.io/?client=quantumflux&EIO=4&transport=websocket",
            "ws://localhost:8000/socket.io/?token=x&client=quantumflux&EIO=4&transport=websocket",
        ]
    ):
        sock = f"s{i}"
        dec.feed(Frame(1.0, "recv", sock, url, 1, '451-["updateStream",{"_placeholder":true,"num":0}]'))
        assert dec.feed(Frame(1.1, "recv", sock, url, 2, body)) == []
    assert dec.counters["ignored_socket"] == 4
    # The same frames from the simulator's unmarked socket are ticks.
    url = "ws://127.0.0.1:8765/socket.io/?EIO=4&transport=websocket"
    dec.feed(Frame(2.0, "recv", "sim", url, 1, '451-["updateStream",{"_placeholder":true,"num":0}]'))
    assert [t.asset for t in dec.feed(Frame(2.1, "recv", "sim", url, 2, body))] == ["EURUSD_otc"]


# ---------------------------------------------------------------------- assets, selection, balance


def test_assets_sentiment_and_what_the_user_selected() -> None:
    out, _ = decode(load("assets-and-state.jsonl"))
    [assets] = of_type(out, "assets")
    rows = assets.data["assets"]
    assert [(a["asset"], a["label"], a["type"], a["payout"], a["otc"], a["active"]) for a in rows] == [
        ("EURUSD_otc", "EUR/USD OTC", "currency", 92, True, True),
        ("EURUSD", "EUR/USD", "currency", 78, False, False),
    ]
    assert rows[0]["digits"] == 5 and rows[0]["id"] == 66
    [sentiment] = of_type(out, "sentiment")
    assert sentiment.data == {"asset": "EURUSD_otc", "value": 96}
    assert [e.data for e in of_type(out, "platform_state")] == [
        {"asset": "EURUSD_otc", "period": 60, "source": "changeSymbol"},
        # saveCharts gives the symbol; the period stays the one changeSymbol said, in seconds
        {"asset": "CADJPY_otc", "period": 60, "source": "saveCharts"},
    ]
    [balance] = of_type(out, "balance")
    assert balance.data == {"balance": 100.5, "is_demo": False}
    assert all(e.ts > 1.7e9 for e in out if isinstance(e, Event))


# ---------------------------------------------------------------------- bad input


def test_malformed_and_unknown_frames_are_counted_and_skipped() -> None:
    out, dec = decode(load("malformed.jsonl"))
    assert ticks(out) == [("EURUSD_otc", 1781430720.5 - OFFSET, 1.14361)]
    c = dec.counters
    assert c["frames"] == 14
    assert c["malformed:empty_text"] == 1
    assert c["malformed:socketio"] == 1  # 42[not json
    assert c["malformed:event"] == 1  # 42{...}
    assert c["unknown_event:someNewEvent"] == 1
    assert c["malformed:text"] == 1  # zzz
    assert c["malformed:binary_body"] == 1  # not base64
    assert c["malformed:tick"] == 1  # "soon"
    assert c["malformed:missing_attachment"] == 1  # history header followed by text
    assert c["unknown_binary"] == 1


def test_frames_from_the_page_are_decoded_as_sent() -> None:
    dec = Decoder()
    url = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
    # a text event with a namespace and an ack id is still read
    out = dec.feed(Frame(5.0, "sent", "s", url, 1, '42/chart,17["changeSymbol",{"asset":"A","period":5}]'))
    assert [e.data for e in out if isinstance(e, Event)] == [
        {"asset": "A", "period": 5, "source": "changeSymbol"}
    ]
    # a received changeSymbol is not the user's selection
    assert dec.feed(Frame(6.0, "recv", "s", url, 1, '42["changeSymbol",{"asset":"B","period":5}]')) == []


def test_an_implausible_capture_time_does_not_fix_the_offset() -> None:
    frames = tick_frames([[1781430720.5, 1.1], [1781430721.0, 1.2]], "A_otc", "s", None)
    frames[1] = Frame(0.0, *[getattr(frames[1], k) for k in ("dir", "socket", "url", "opcode", "payload")])
    out, dec = decode(frames)
    # the first tick falls back to the usual offset; the second measures it properly
    assert ticks(out) == [("A_otc", 1781430720.5 - 7200, 1.1), ("A_otc", 1781430721.0 - 7200, 1.2)]
    assert dec.counters["offset_implausible"] == 1 and dec.counters["offset_measured"] == 1


@pytest.mark.parametrize(
    ("chart_period", "period"),
    [(4, 60), (0, 5), (11, 14400), (60, 60), (300, 300), (3, 30), (77, None), ("x", None)],
)
def test_save_charts_before_any_change_symbol_reads_chart_period(
    chart_period: object, period: object
) -> None:
    dec = Decoder()
    body = json.dumps(["saveCharts", {"settings": [{"symbol": "CADJPY_otc", "chartPeriod": chart_period}]}])
    url = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
    [event] = dec.feed(Frame(1.0, "sent", "s", url, 1, "42" + body))
    assert isinstance(event, Event)
    assert event.data == {"asset": "CADJPY_otc", "period": period, "source": "saveCharts"}


# ---------------------------------------------------------------------- named reasons

URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
WALL = 1781423520.0  # capture time; the broker's clock reads WALL + OFFSET


def binary_event(name: str, body: object, ts: float = WALL, socket: str = "s") -> list[Frame]:
    """The broker's two frames for one binary event."""
    header = f'451-["{name}",{{"_placeholder":true,"num":0}}]'
    raw = base64.b64encode(json.dumps(body).encode()).decode()
    return [Frame(ts, "recv", socket, URL, 1, header), Frame(ts, "recv", socket, URL, 2, raw)]


def good_tick(t: float = WALL + OFFSET + 0.5, socket: str = "s") -> list[Frame]:
    return binary_event("updateStream", [["EURUSD_otc", t, 1.14361]], socket=socket)


@pytest.mark.parametrize(
    "header",
    [
        '45²-["updateStream",{"_placeholder":true,"num":0}]',  # isdigit() says yes, int() says no
        '45٣-["updateStream",{"_placeholder":true,"num":0}]',
        '450-["updateStream",{"_placeholder":true,"num":0}]',
        "45" + "9" * 5000 + '-["updateStream",{"_placeholder":true,"num":0}]',
    ],
)
def test_a_binary_event_with_a_bad_attachment_count_is_named(header: str) -> None:
    dec = Decoder(broker_utc_offset=OFFSET)
    out = [r for f in good_tick() for r in dec.feed(f)]
    assert dec.feed(Frame(WALL, "recv", "s", URL, 1, header)) == []
    assert dec.counters["malformed:attachment_count"] == 1
    # the socket goes on: the next tick comes through
    out += [r for f in good_tick(WALL + OFFSET + 1.5) for r in dec.feed(f)]
    assert ticks(out) == [("EURUSD_otc", WALL + 0.5, 1.14361), ("EURUSD_otc", WALL + 1.5, 1.14361)]


def test_a_placeholder_nested_too_deep_is_named() -> None:
    dec = Decoder(broker_utc_offset=OFFSET)
    args = "[" * 40 + '{"_placeholder":true,"num":0}' + "]" * 40
    dec.feed(Frame(WALL, "recv", "s", URL, 1, f'451-["updateHistoryNewFast",{args}]'))
    assert dec.feed(Frame(WALL, "recv", "s", URL, 2, base64.b64encode(b"{}").decode())) == []
    assert dec.counters["malformed:too_deep"] == 1


def test_frames_built_with_wrong_field_types_are_named() -> None:
    dec = Decoder()
    frames = [
        Frame(1.0, "recv", None, URL, 1, "2"),  # type: ignore[arg-type]
        Frame(1.0, "recv", "s", 5, 1, "2"),  # type: ignore[arg-type]
        Frame(1.0, "recv", "s", URL, 1, None),  # type: ignore[arg-type]
        Frame(1.0, "up", "s", URL, 1, '42["changeSymbol",{"asset":"A","period":60}]'),
        Frame("soon", "recv", "s", URL, 1, "2"),  # type: ignore[arg-type]
    ]
    assert [dec.feed(f) for f in frames] == [[]] * 5
    assert dec.counters["malformed:frame"] == 5 and dec.counters["frames"] == 5


def test_a_bug_inside_the_decoder_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from quantumflux.ingest.decode import events

    def broken(*_: object) -> list[object]:
        raise KeyError("a bug")

    monkeypatch.setitem(events.RECEIVED, "chafor", broken)
    with pytest.raises(KeyError):
        Decoder().feed(Frame(WALL, "recv", "s", URL, 1, '42["chafor",[["EURUSD_otc",96]]]'))


# ---------------------------------------------------------------------- values checked item by item


def test_bad_candles_are_rejected_one_by_one_and_the_batch_goes_on() -> None:
    now = WALL + OFFSET  # the broker's clock at capture
    good = [1781430600, 1.2, 1.3, 1.5, 1.0]
    body = {
        "asset": "AUDNZD_otc",
        "period": 60,
        "history": [
            [now - 1.5, 1.2],
            [1e300, 1.2],  # bad_time
            [now - 1.0, 0],  # bad_price
            [now - 0.5, -1.2],  # bad_price
            ["x", 1.2],  # not a number: malformed
        ],
        "candles": [
            good,
            [1e300, 1.2, 1.3, 1.5, 1.0],  # the fuzz's 1052: a time no field of the bus can hold
            [946684799, 1.2, 1.3, 1.5, 1.0],  # before 2000
            [now + 4 * 86400, 1.2, 1.3, 1.5, 1.0],  # days ahead of the broker's clock
            [0, 1.2, 1.3, 1.5, 1.0],
            [-60, 1.2, 1.3, 1.5, 1.0],
            [1781430660, 0, 1.3, 1.5, 1.0],  # bad_price
            [1781430660, 1.2, -1.3, 1.5, 1.0],  # bad_price
            [1781430660, 1.2, 1.3, 1.0, 1.5],  # high below low: bad_ohlc
            [1781430660, 1.2, 1.3, 1.25, 1.0],  # close above high in both layouts: bad_ohlc
            [1781430660, 1.2, "1.3", 1.5, 1.0],  # malformed
            [now + 3600, 1.2, 1.3, 1.5, 1.0],  # an hour ahead is still a time
        ],
    }
    out, dec = decode(binary_event("updateHistoryNewFast", body), broker_utc_offset=OFFSET)
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.candles == (
        (1781430600 - OFFSET, 1.2, 1.5, 1.0, 1.3),
        (int(now + 3600) - OFFSET, 1.2, 1.5, 1.0, 1.3),
    )
    assert batch.ticks == ((now - 1.5 - OFFSET, 1.2),)
    c = dec.counters
    assert c["rejected:bad_time"] == 1 + 5
    assert c["rejected:bad_price"] == 2 + 2
    assert c["rejected:bad_ohlc"] == 2
    assert c["malformed:candle"] == 1 and c["malformed:history_tick"] == 1
    [loaded] = of_type(out, "history_loaded")
    assert loaded.data["candles"] == 2 and loaded.data["ticks"] == 1


def test_bad_candle_objects_of_a_page_are_rejected_one_by_one() -> None:
    good = {"time": 1781430600, "open": 1.2, "close": 1.3, "high": 1.5, "low": 1.0}
    body = {
        "asset": "AUDUSD_otc",
        "period": 60,
        "index": 1,
        "data": [
            good,
            {**good, "time": 1e300},  # the fuzz's 23367
            {**good, "high": 0.9},  # high below low
            {**good, "low": 0.0},
            {"time": 1781430601, "price": float("1e-320")},  # tiny but positive: a price
            {"time": 1e20, "price": 1.2},
        ],
    }
    out, dec = decode(binary_event("loadHistoryPeriod", body), broker_utc_offset=OFFSET)
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.candles == ((1781430600 - OFFSET, 1.2, 1.5, 1.0, 1.3),)
    assert batch.ticks == ((1781430601 - OFFSET, 1e-320),)
    c = dec.counters
    assert (c["rejected:bad_time"], c["rejected:bad_ohlc"], c["rejected:bad_price"]) == (2, 1, 1)


def test_bad_ticks_are_rejected_one_by_one() -> None:
    now = WALL + OFFSET
    rows = [
        ["EURUSD_otc", now, 1.1],
        ["EURUSD_otc", 1e300, 1.1],
        ["EURUSD_otc", (now + 86400) * 1000, 1.2],  # milliseconds, a day ahead: still a time
        ["EURUSD_otc", now + 5 * 86400, 1.1],
        ["EURUSD_otc", now, 0.0],
        ["EURUSD_otc", now, -1.1],
        ["EURUSD_otc", "now", 1.1],
    ]
    out, dec = decode(binary_event("updateStream", rows), broker_utc_offset=OFFSET)
    assert ticks(out) == [("EURUSD_otc", WALL, 1.1), ("EURUSD_otc", WALL + 86400, 1.2)]
    c = dec.counters
    assert (c["rejected:bad_time"], c["rejected:bad_price"], c["malformed:tick"]) == (2, 2, 1)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["EURUSD_otc", 946684799.0, 1.1], "rejected:bad_time"),
        (["EURUSD_otc", WALL + OFFSET + 4 * 86400.0, 1.1], "rejected:bad_time"),
        (["EURUSD_otc", WALL + OFFSET, 0.0], "rejected:bad_price"),
        (["EURUSD_otc", WALL + OFFSET, -1.5], "rejected:bad_price"),
        (["", WALL + OFFSET, 1.1], "malformed:tick"),
    ],
)
def test_a_one_row_tick_on_a_known_socket_is_checked_too(row: list[object], reason: str) -> None:
    # After the first tick a socket's ticks take the quick way; it checks the same values.
    dec = Decoder(broker_utc_offset=OFFSET)
    first = [r for f in good_tick() for r in dec.feed(f)]
    assert ticks(first) == [("EURUSD_otc", WALL + 0.5, 1.14361)]
    assert [r for f in binary_event("updateStream", [row]) for r in dec.feed(f)] == []
    assert dec.counters[reason] == 1
    assert dec.counters["ticks"] == 1


def test_a_capture_time_that_cannot_be_trusted_still_bounds_times() -> None:
    # Frames built by hand (time 1.0) or a clock not set: times up to the year 2100 are taken.
    body = [["EURUSD_otc", 1781430720.5, 1.1], ["EURUSD_otc", 4102444801.0, 1.1]]
    out, dec = decode(binary_event("updateStream", body, ts=1.0), broker_utc_offset=OFFSET)
    assert ticks(out) == [("EURUSD_otc", 1781430720.5 - OFFSET, 1.1)]
    assert dec.counters["rejected:bad_time"] == 1
