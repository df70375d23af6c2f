"""The user's own deals and balance, read from frames shaped like the protocol notes' samples."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from quantumflux.bus.records import Event, decode, pack
from quantumflux.ingest.decode import Decoder
from quantumflux.ingest.frames import Frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
DEAL_ID = "154e9d65-f500-4368-9976-7ca4a0904c82"


def load(name: str) -> list[Frame]:
    with (FIXTURES / name).open() as f:
        return [Frame.from_json(json.loads(line)) for line in f if line.strip()]


def run(frames: list[Frame]) -> tuple[list[Event], Decoder]:
    dec = Decoder()
    out = [r for f in frames for r in dec.feed(f)]
    assert all(isinstance(r, Event) for r in out)
    return out, dec  # type: ignore[return-value]


def shifted(frames: list[Frame], by: float) -> list[Frame]:
    return [Frame(f.ts + by, f.dir, f.socket, f.url, f.opcode, f.payload) for f in frames]


def the_deal(state: str, off: float, **changes: Any) -> dict[str, Any]:
    """The notes' U3 deal (#BA_otc call, 1 USD at 92 %, opened 19:03:25.370 in the deal clock)."""
    deal = {
        "state": state,
        "id": DEAL_ID,
        "asset": "#BA_otc",
        "direction": "call",
        "amount": 1.0,
        "open_time": round(1742583805.370 - off, 3),
        "close_time": 1742583810.0 - off,
        "open_price": 162.23,
        "close_price": None,
        "profit": None,
        "payout_percent": 92.0,
        "is_demo": True,
        "currency": "USD",
        "request_id": None,
    }
    deal.update(changes)
    return deal


def check_session(out: list[Event], off: float) -> None:
    """What the fixture's session must publish when the deal clock runs ``off`` seconds ahead."""
    kinds = [(e.type, e.data.get("state")) for e in out]
    assert kinds == [
        ("deals", "open"),
        ("deal", "open"),
        ("deals", "open"),
        ("balance", None),
        ("deal", "closed"),
        ("deals", "closed"),
        ("deals", "open"),
        ("balance", None),
        ("deal", "failed"),
        ("deal", "closed"),
    ]
    # The broker echoes the page's requestId on the deal it opened, so an order finds its deal.
    opened = the_deal("open", off, request_id="12260952")
    closed = the_deal("closed", off, close_price=162.27, profit=0.92)
    assert out[0].data == {"state": "open", "deals": []}
    assert out[1].data == opened
    assert out[2].data == {"state": "open", "deals": [opened]}
    assert out[3].data == {"balance": 9999.0, "is_demo": True}
    assert out[4].data == closed
    assert out[5].data == {"state": "closed", "deals": [closed]}
    assert out[6].data == {"state": "open", "deals": []}
    assert out[7].data == {"balance": 10000.92, "is_demo": True}
    # the broker refused the second order: what was asked comes from the page's openOrder
    assert out[8].data == {
        **dict.fromkeys(opened, None),
        "state": "failed",
        "asset": "#BA_otc",
        "direction": "put",
        "amount": 5000000.0,
        "is_demo": True,
        "error": "Not enough money",
        "request_id": "12260953",  # from the page's own order: the refusal names none
    }
    # the older form: an integer id with a uuid, a bare list, in a text frame; a losing put
    assert out[9].data == {
        "state": "closed",
        "id": "3b85e7f6-5bab-49b3-863d-0c6177d5a6af",
        "asset": "#BA_otc",
        "direction": "put",
        "amount": 2.0,
        "open_time": round(1742583820.558 - off, 3),
        "close_time": round(1742583880.136 - off, 3),
        "open_price": 162.31,
        "close_price": 162.35,
        "profit": -2.0,
        "payout_percent": 88.0,
        "is_demo": True,
        "currency": "USD",
        "request_id": None,  # the broker's 0: no page asked for it
    }
    assert [e.ts for e in out] == sorted(e.ts for e in out)


def test_deals_when_the_deal_clock_is_utc() -> None:
    out, dec = run(load("deals.jsonl"))
    check_session(out, 0)
    assert dec.counters["deal_offset_measured"] == 1
    assert dec.counters["deals"] == 3 and dec.counters["deals_failed"] == 1
    assert not [k for k in dec.counters if k.startswith(("malformed", "unknown", "unused"))]


def test_deals_when_the_deal_clock_runs_two_hours_ahead_like_the_ticks() -> None:
    # The same frames captured by a clock two hours behind the deals' clock.
    out, dec = run(shifted(load("deals.jsonl"), -7200))
    check_session(out, 7200)
    assert dec.counters["deal_offset_measured"] == 1


def test_the_clock_is_measured_in_half_hours_from_the_close_when_no_open_was_seen() -> None:
    frames = [f for f in load("deals.jsonl") if f.ts >= 1742583810.3]
    out, _ = run(shifted(frames, -3600 + 25))  # a capture 25 s late, an hour behind
    closed = [e for e in out if e.type == "deal" and e.data["state"] == "closed"]
    assert closed[0].data == the_deal("closed", 3600, close_price=162.27, profit=0.92)


def test_a_list_before_any_order_takes_the_deal_times_as_utc() -> None:
    frames = [f for f in load("deals.jsonl") if 1742583805.5 <= f.ts < 1742583805.6]
    assert len(frames) == 2  # the updateOpenedDeals header and body
    out, dec = run(shifted(frames, -7200))
    assert out[0].data == {"state": "open", "deals": [the_deal("open", 0, request_id="12260952")]}
    assert dec.counters["deal_offset_assumed"] == 1


def test_the_uid_is_never_published() -> None:
    out, _ = run(load("deals.jsonl"))
    raw = [pack(e) for e in out]
    assert all(b"uid" not in r and b"12345678" not in r for r in raw)
    # and what goes on the bus reads back the same
    assert [decode(r) for r in raw] == out


def frame_pair(ts: float, name: str, body: bytes) -> list[Frame]:
    header = json.dumps([name, {"_placeholder": True, "num": 0}], separators=(",", ":"))
    return [
        Frame(ts, "recv", "T", URL, 1, "451-" + header),
        Frame(ts, "recv", "T", URL, 2, base64.b64encode(body).decode()),
    ]


def test_malformed_deals_are_counted_and_skipped() -> None:
    good = {"id": "a", "asset": "X_otc", "amount": 1, "command": 1, "openTimestamp": 1742583805}
    frames = [
        *frame_pair(1742583805.2, "successopenOrder", b"[1, 2]"),  # not an object
        *frame_pair(1742583805.3, "successopenOrder", b'{"id": "x", "asset": "X_otc"}'),  # no amount
        *frame_pair(1742583805.4, "successcloseOrder", b'{"profit": 1}'),  # no deals
        *frame_pair(1742583805.5, "updateClosedDeals", b'{"deals": []}'),  # not a list
        *frame_pair(1742583805.6, "updateClosedDeals", json.dumps([good, {"id": 5}, "z"]).encode()),
        *frame_pair(1742583805.7, "successopenOrder", b"{not json"),
        Frame(1742583805.8, "recv", "T", URL, 1, '42["failopenOrder", 7]'),
        *frame_pair(1742583805.9, "successopenOrder", json.dumps({**good, "command": 7}).encode()),
    ]
    out, dec = run(frames)
    c = dec.counters
    assert c["malformed:deal"] == 6  # [1,2], no amount, no deals, {"id": 5}, "z", failopenOrder 7
    assert c["malformed:deal_list"] == 1
    assert c["malformed:binary_body"] == 1
    [listed, odd] = out
    assert [d["id"] for d in listed.data["deals"]] == ["a"]
    assert listed.data["deals"][0]["direction"] == "put"
    assert odd.data["direction"] is None  # a command nobody knows: kept, direction unknown


def test_unannounced_deal_bodies_are_recognised_by_their_shape() -> None:
    body = json.loads((FIXTURES / "deals.jsonl").read_text().splitlines()[10])["payload"]
    out, dec = run([Frame(1742583810.3, "recv", "T", URL, 2, body)])
    assert [e.data["state"] for e in out] == ["closed"]
    assert dec.counters["unannounced_binary"] == 1
