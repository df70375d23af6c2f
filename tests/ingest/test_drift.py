"""Protocol drift: what the broker sends today raises nothing; each kind of change raises one finding."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from quantumflux.bus.records import Event, pack, unpack
from quantumflux.ingest.decode import Decoder, events
from quantumflux.ingest.decode.drift import (
    CHECK_EVERY,
    FIRST_CHECKED,
    MAX_FINDINGS,
    SUGGESTION,
    protocol_report,
)
from quantumflux.ingest.decode.known_shapes import HARMLESS, RECEIVED_SHAPES, SENT_SHAPES
from quantumflux.ingest.frames import Frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
OFFSET = 7200
WALL = 1781423520.0  # capture time; the broker's clock reads WALL + OFFSET
NOW = WALL + OFFSET


def load(path: Path) -> list[Frame]:
    with path.open() as f:
        return [Frame.from_json(json.loads(line)) for line in f if line.strip()]


def feed(dec: Decoder, frames: list[Frame]) -> list[object]:
    return [r for frame in frames for r in dec.feed(frame)]


def binary_event(name: str, body: object, ts: float = WALL, socket: str = "s") -> list[Frame]:
    """The broker's two frames for one binary event."""
    header = f'451-["{name}",{{"_placeholder":true,"num":0}}]'
    raw = base64.b64encode(json.dumps(body).encode()).decode()
    return [Frame(ts, "recv", socket, URL, 1, header), Frame(ts, "recv", socket, URL, 2, raw)]


def text_event(name: str, body: object, direction: str = "recv", ts: float = WALL) -> Frame:
    return Frame(ts, direction, "s", URL, 1, "42" + json.dumps([name, body]))


def tick(price: object = 1.14361, t: float = NOW, ts: float = WALL) -> list[Frame]:
    return binary_event("updateStream", [["EURUSD_otc", t, price]], ts=ts)


def warmed_up() -> Decoder:
    """A decoder whose socket already had a good tick: the next ones take the fast path."""
    dec = Decoder(broker_utc_offset=OFFSET)
    assert len(feed(dec, tick())) == 1
    return dec


def one_finding(dec: Decoder) -> dict[str, Any]:
    [finding] = dec.drift_report()
    return finding


# ---------------------------------------------------------------------- what the broker sends today


FIXTURE_FILES = sorted(p.name for p in (FIXTURES / "ingest").glob("*.jsonl") if p.name != "malformed.jsonl")


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_no_fixture_frame_is_taken_for_drift(name: str) -> None:
    dec = Decoder()
    out = feed(dec, load(FIXTURES / "ingest" / name))
    assert out, "the fixture decodes to something"
    assert dec.drift_report() == []
    assert dec.counters["protocol_drift"] == 0


def test_the_real_recording_shows_no_drift(po_data: Path) -> None:
    dec = Decoder()
    feed(dec, load(po_data / "sample-recording.jsonl"))
    assert dec.counters["ticks"] == 300
    assert dec.drift_report() == [] and dec.drift_findings() == []


def test_the_broken_fixture_shows_only_its_real_changes() -> None:
    # Broken JSON or base64 is damage, counted as malformed; an unknown event, a tick with a
    # text time and a headerless body of no known shape are changes.
    dec = Decoder()
    feed(dec, load(FIXTURES / "ingest" / "malformed.jsonl"))
    assert sorted(f["key"] for f in dec.drift_report()) == [
        "recv (binary without header) unknown_event",
        "recv someNewEvent unknown_event",
        "recv updateStream type body[*][1]:text",
    ]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        # the second format of a paged reply: tick items
        ("loadHistoryPeriodFast", {"asset": "A_otc", "index": 1, "data": [{"time": NOW, "price": 1.2}]}),
        # history ticks as triples, candles with and without volume, no period
        (
            "updateHistoryNew",
            {"asset": "A_otc", "history": [[NOW, 1.2, None]], "candles": [[1781430600, 1, 1, 1, 1]]},
        ),
        # one flat tick, several rows, milliseconds
        ("updateStream", ["EURUSD_otc", NOW, 1.1]),
        ("updateStream", [["EURUSD_otc", NOW, 1.1], ["GBPUSD_otc", NOW * 1000, 1.3]]),
        ("successcloseOrder", []),
    ],
)
def test_known_variants_are_no_drift(name: str, body: object) -> None:
    dec = Decoder(broker_utc_offset=OFFSET)
    dec.feed(text_event("changeSymbol", {"asset": "A_otc", "period": 60}, "sent"))
    feed(dec, binary_event(name, body))
    assert dec.drift_report() == []


@pytest.mark.parametrize("name", ["ps", "updateCharts", "updateTime", "favorite/load", "indicator/load"])
@pytest.mark.parametrize("direction", ["recv", "sent"])
def test_events_left_alone_on_purpose_do_not_alarm(name: str, direction: str) -> None:
    dec = Decoder()
    dec.feed(text_event(name, {"anything": [1, 2]}, direction))
    assert dec.drift_report() == []


def test_every_event_the_decoder_reads_has_a_known_shape() -> None:
    assert set(events.RECEIVED) <= set(RECEIVED_SHAPES)
    assert set(events.SENT) <= set(SENT_SHAPES)
    left_alone = events.QUIET_EVENTS | events.SENT_EVENTS
    assert left_alone <= HARMLESS | set(RECEIVED_SHAPES) | set(SENT_SHAPES)


# ---------------------------------------------------------------------- each change, one finding


def test_an_unknown_event_is_one_finding() -> None:
    dec = Decoder()
    dec.feed(text_event("updateStreamV2", [["EURUSD_otc", NOW, 1.1]]))
    finding = one_finding(dec)
    assert finding["event"] == "updateStreamV2" and finding["kind"] == "unknown_event"
    assert finding["change"] == "unknown event 'updateStreamV2' (received, a 42 text event)"
    assert finding["suggestion"] == SUGGESTION and "qf record FILE --share" in SUGGESTION


def test_a_new_field_in_the_tick_body_is_one_finding() -> None:
    dec = warmed_up()
    assert feed(dec, binary_event("updateStream", [["EURUSD_otc", NOW, 1.1, 17]])) != []
    finding = one_finding(dec)
    assert (finding["kind"], finding["path"]) == ("new_field", "body[*][3]")
    assert finding["change"] == "updateStream: new field body[*][3] (number)"


def test_a_changed_tuple_length_in_the_tick_body_is_one_finding() -> None:
    dec = warmed_up()
    feed(dec, binary_event("updateStream", [["EURUSD_otc", NOW]]))
    finding = one_finding(dec)
    assert (finding["kind"], finding["path"]) == ("length", "body[*]")
    assert finding["change"] == "updateStream: body[*] has 2 fields, known 3"


def test_a_price_sent_as_text_is_one_finding() -> None:
    dec = warmed_up()
    assert feed(dec, tick(price="1.14362")) == []
    finding = one_finding(dec)
    assert (finding["kind"], finding["path"]) == ("type", "body[*][2]")
    assert finding["change"] == "updateStream: body[*][2] is text, known number"
    assert finding["framing"] == "451-"


def test_a_missing_field_in_a_history_reply_is_one_finding() -> None:
    dec = Decoder(broker_utc_offset=OFFSET)
    body = {"asset": "AUDCAD_otc", "period": 60, "history": [[NOW - 1, 0.89163]]}
    feed(dec, binary_event("updateHistoryNewFast", body))
    finding = one_finding(dec)
    assert (finding["event"], finding["kind"]) == ("updateHistoryNewFast", "missing_field")
    assert finding["change"] == "updateHistoryNewFast: field body.candles is missing"


def test_a_paged_candle_without_its_close_is_compared_with_the_candle_form() -> None:
    dec = Decoder(broker_utc_offset=OFFSET)
    item = {"time": 1781430600, "open": 1.2, "high": 1.5, "low": 1.0, "volume": 3}
    feed(dec, binary_event("loadHistoryPeriod", {"asset": "A_otc", "index": 1, "period": 60, "data": [item]}))
    assert one_finding(dec)["change"] == "loadHistoryPeriod: field body.data[*].close is missing"


def test_market_data_arriving_as_text_is_a_framing_change() -> None:
    dec = warmed_up()
    assert len(dec.feed(text_event("updateStream", [["EURUSD_otc", NOW, 1.1]]))) == 1
    finding = one_finding(dec)
    assert finding["kind"] == "framing"
    assert finding["change"] == (
        "updateStream came as a 42 text event, known as a 451- binary event or a binary frame without header"
    )


# ---------------------------------------------------------------------- counted, reported once


def test_a_repeated_change_is_counted_and_reported_once() -> None:
    dec = warmed_up()
    for i in range(5):
        feed(dec, tick(price="1.1", ts=WALL + i))
    [finding] = dec.drift_report()
    assert finding["count"] == 5
    assert (finding["first_seen"], finding["last_seen"]) == (WALL, WALL + 4)
    for i in range(3):
        feed(dec, tick(price="1.1", ts=WALL + 5 + i))
    assert dec.drift_report() == []
    [still] = dec.drift_findings()
    assert still["key"] == finding["key"] and still["count"] == 8
    assert dec.counters["protocol_drift"] == 8
    # a different change on the same field is a new finding
    feed(dec, tick(price=None))
    assert [f["path"] for f in dec.drift_report()] == ["body[*][2]"]


def test_a_change_after_hours_of_ticks_is_found_within_seconds() -> None:
    # Two-row tick bodies do not take the fast path: every one passes the (sampled) check.
    dec = Decoder(broker_utc_offset=OFFSET)
    rows = [["EURUSD_otc", NOW, 1.1], ["GBPUSD_otc", NOW, 1.3]]
    for i in range(FIRST_CHECKED * 3):
        feed(dec, binary_event("updateStream", rows, ts=WALL + i * 0.5))
    assert dec.drift_report() == []
    start = WALL + FIRST_CHECKED * 3 * 0.5
    bad = [["EURUSD_otc", NOW, 1.1, 0], ["GBPUSD_otc", NOW, 1.3, 0]]
    found: list[dict[str, Any]] = []
    frames = 0
    while not found and frames < 100:
        feed(dec, binary_event("updateStream", bad, ts=start + frames * 0.5))
        frames += 1
        found = dec.drift_report()
    assert [f["path"] for f in found] == ["body[*][3]"]
    assert frames <= CHECK_EVERY  # at 2 ticks/s: within 5 s


def test_findings_are_bounded_but_drift_is_still_counted() -> None:
    dec = Decoder()
    for i in range(MAX_FINDINGS + 10):
        dec.feed(text_event(f"newEvent{i}", {}))
    assert len(dec.drift_report()) == MAX_FINDINGS
    assert dec.counters["protocol_drift"] == MAX_FINDINGS + 10


# ---------------------------------------------------------------------- the sample carries no value


def test_a_drifted_auth_frame_shows_its_fields_but_not_the_session() -> None:
    dec = Decoder()
    body = {
        "session": "a:4:{s:10:session_id;s:32:0f1e2d3c4b5a69788796a5b4c3d2e1f0}",
        "isDemo": 0,
        "uid": 84890061,
        "platform": 2,
        "deviceKey": "9f8e7d6c5b4a",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0": True,
    }
    dec.feed(text_event("auth", body, "sent"))
    finding = one_finding(dec)
    assert finding["kind"] == "new_field"
    assert finding["shape"] == {
        "event": "auth",
        "framing": "42",
        "body": {
            "session": "text",
            "isDemo": "number",
            "uid": "number",
            "platform": "number",
            "deviceKey": "text",
            "<key>": "bool",
        },
    }
    published = json.dumps(finding)
    for secret in ("session_id", "0f1e2d3c", "84890061", "9f8e7d6c5b4a"):
        assert secret not in published


def test_a_drifted_tick_sample_holds_no_price_time_or_asset() -> None:
    dec = warmed_up()
    feed(dec, binary_event("updateStream", [["EURUSD_otc", 1781430720.125, "1.14362"]] * 30))
    finding = one_finding(dec)
    assert finding["shape"]["body"] == [["text", "number", "text"]] * 3 + ["…"]
    published = json.dumps(finding)
    for value in ("EURUSD", "1781430720", "1.14362"):
        assert value not in published


def test_a_report_travels_on_the_bus_as_an_event() -> None:
    dec = Decoder()
    assert protocol_report(dec.drift_report()) is None
    dec.feed(text_event("someNewEvent", {"x": [1, {"y": "z"}]}))
    dec.feed(text_event("otherNewEvent", {}))
    data = protocol_report(dec.drift_report())
    assert data is not None
    assert data["summary"] == (
        "The broker's protocol changed: unknown event 'someNewEvent' (received, a 42 text event)"
        " (and 1 more change)"
    )
    back = unpack(pack(Event("report", WALL, data)))
    assert back["type"] == "report" and back["report"] == "protocol"
    assert [f["event"] for f in back["findings"]] == ["someNewEvent", "otherNewEvent"]
    assert back["findings"][0]["shape"] == {
        "event": "someNewEvent",
        "framing": "42",
        "body": {"x": ["number", {"y": "text"}]},
    }
    assert back["suggestion"] == SUGGESTION
