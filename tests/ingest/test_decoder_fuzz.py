"""Property tests: whatever arrives, the decoder never raises, counts what it saw and recovers.

The decoder catches nothing but its own named reasons, so any exception here is a decoder bug
and fails the test; so does a counter named after a Python exception.
"""

from __future__ import annotations

import base64
import builtins
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantumflux.bus.records import Event, HistoryBatch, Tick, pack
from quantumflux.ingest.decode import Decoder
from quantumflux.ingest.frames import Frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
HEADER = '451-["updateStream",{"_placeholder":true,"num":0}]'


def _real_frames() -> list[Frame]:
    frames: list[Frame] = []
    for path in sorted((FIXTURES / "ingest").glob("*.jsonl")):
        frames += [Frame.from_json(json.loads(line)) for line in path.open() if line.strip()]
    with (FIXTURES / "po" / "sample-recording.jsonl").open() as f:
        frames += [Frame.from_json(json.loads(line)) for _, line in zip(range(40), f, strict=False)]
    return frames


REAL = _real_frames()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_publishable(records: list[object]) -> None:
    """Every record the decoder returns is one the bus can carry."""
    for r in records:
        assert isinstance(r, Tick | HistoryBatch | Event)
        pack(r)
        if isinstance(r, Tick):
            assert isinstance(r.asset, str) and r.asset
            assert math.isfinite(r.ts) and math.isfinite(r.price)


def check_reasons(dec: Decoder) -> None:
    """Bad input is counted under the decoder's own reasons, never under a Python exception's name."""
    for key in dec.counters:
        found = getattr(builtins, key.partition(":")[2], None)
        assert not (isinstance(found, type) and issubclass(found, BaseException)), key


def mangle(payload: str, data: st.DataObject) -> str:
    ops = data.draw(st.lists(st.sampled_from(["cut", "flip", "insert", "dup"]), min_size=1, max_size=4))
    for op in ops:
        if not payload:
            break
        i = data.draw(st.integers(0, len(payload) - 1))
        if op == "cut":
            payload = payload[:i]
        elif op == "flip":
            payload = payload[:i] + data.draw(st.characters()) + payload[i + 1 :]
        elif op == "insert":
            payload = payload[:i] + data.draw(st.text(max_size=8)) + payload[i:]
        else:
            payload = payload[:i] + payload[i:] * 2
    return payload


frame_fields = st.fixed_dictionaries(
    {
        "dir": st.sampled_from(["recv", "sent"]),
        "socket": st.sampled_from(["a", "b", "c"]),
        "url": st.sampled_from([URL, None, "wss://chat-po.site/socket.io/", "ws://localhost:1/socket.io/"]),
        "opcode": st.sampled_from([1, 2, 2, 9]),
        "ts": st.floats(allow_nan=True, allow_infinity=True),
    }
)


@FUZZ
@given(st.lists(st.tuples(frame_fields, st.binary(max_size=200)), max_size=30))
def test_random_bytes_never_raise(items: list[tuple[dict, bytes]]) -> None:
    dec = Decoder()
    for fields, raw in items:
        payload = base64.b64encode(raw).decode() if fields["opcode"] == 2 else raw.decode("latin-1")
        check_publishable(dec.feed(Frame(payload=payload, **fields)))
    assert dec.counters["frames"] == len(items)
    check_reasons(dec)


@FUZZ
@given(st.lists(st.tuples(frame_fields, st.text(max_size=120)), max_size=30))
def test_random_text_never_raises(items: list[tuple[dict, str]]) -> None:
    dec = Decoder()
    for fields, text in items:
        check_publishable(dec.feed(Frame(payload=text, **fields)))
    assert dec.counters["frames"] == len(items)
    check_reasons(dec)


@FUZZ
@given(st.data())
def test_mangled_real_frames_never_raise_and_the_next_good_tick_decodes(data: st.DataObject) -> None:
    dec = Decoder(broker_utc_offset=7200)
    picks = data.draw(st.lists(st.sampled_from(REAL), min_size=1, max_size=25))
    for frame in picks:
        payload = frame.payload
        if frame.opcode == 2 and frame.socket != "M" and data.draw(st.booleans()):
            # mangle the JSON inside the base64, so that the body still decodes as base64
            inner = mangle(base64.b64decode(payload).decode(), data)
            payload = base64.b64encode(inner.encode("utf-8", "surrogatepass")).decode()
        elif data.draw(st.booleans()):
            payload = mangle(payload, data)
        sock = data.draw(st.sampled_from(["x", frame.socket]))
        check_publishable(dec.feed(Frame(frame.ts, frame.dir, sock, URL, frame.opcode, payload)))
    before = dec.counters["frames"]
    assert before == len(picks)
    # Whatever state the garbage left, a well-formed tick on the same socket comes through.
    body = base64.b64encode(b'[["EURUSD_otc",1781430720.5,1.14361]]').decode()
    dec.feed(Frame(1781423520.6, "recv", "x", URL, 1, HEADER))
    out = dec.feed(Frame(1781423520.6, "recv", "x", URL, 2, body))
    assert out == [Tick("EURUSD_otc", 1781430720.5 - 7200, 1.14361)]
    assert dec.counters["frames"] == before + 2
    check_reasons(dec)


# A Socket.IO header is a packet type, an attachment count, "-", a namespace and an ack id; the
# digits include look-alikes that str.isdigit() accepts and int() refuses.
DIGITS = "0123456789²³¹٣߂"
headers = st.tuples(
    st.sampled_from("01234567"),
    st.text(alphabet=DIGITS, max_size=5),
    st.sampled_from(["-", ""]),
    st.sampled_from(["", "/chart,", "/x"]),
    st.text(alphabet=DIGITS, max_size=3),
    st.sampled_from(['["updateStream",{"_placeholder":true,"num":0}]', '["chafor",[["A",1]]]', "[", ""]),
).map("".join)


@FUZZ
@given(st.lists(headers, max_size=20))
def test_socketio_headers_never_raise(items: list[str]) -> None:
    dec = Decoder(broker_utc_offset=7200)
    body = base64.b64encode(b'[["EURUSD_otc",1781430720.5,1.14361]]').decode()
    for packet in items:
        check_publishable(dec.feed(Frame(1781423520.0, "recv", "s", URL, 1, "4" + packet)))
        check_publishable(dec.feed(Frame(1781423520.0, "recv", "s", URL, 2, body)))
    assert dec.counters["frames"] == 2 * len(items)
    check_reasons(dec)


def test_broken_frame_objects_never_raise() -> None:
    # Frames built in code (not from a recording) may carry wrong types; still no exception.
    dec = Decoder()
    weird = [
        Frame(float("nan"), "recv", "s", URL, 2, "W1siQSIsMS4wLDIuMF1d"),
        Frame(1.0, "recv", None, URL, 1, "2"),  # type: ignore[arg-type]
        Frame(1.0, "recv", "s", 5, 1, "2"),  # type: ignore[arg-type]
        Frame(1.0, "recv", "s", URL, 1, None),  # type: ignore[arg-type]
        Frame(1.0, "up", "s", URL, 1, '42["changeSymbol",{"asset":"A","period":1e400}]'),
    ]
    for f in weird:
        check_publishable(dec.feed(f))
    assert dec.counters["frames"] == len(weird)
    assert dec.counters["malformed:frame"] == 4  # the NaN time is still a float: only its tick goes
    check_reasons(dec)


def test_the_reason_check_can_fail() -> None:
    dec = Decoder()
    dec.counters["malformed:ValueError"] += 1
    with pytest.raises(AssertionError):
        check_reasons(dec)
