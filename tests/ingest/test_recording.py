"""Recordings: JSON lines on disk, no credential ever written, market data kept exactly."""

from __future__ import annotations

import base64
import json
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.ingest.recording import PLACEHOLDER, RecordingWriter, read_recording, redact

TRADE = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
SESSION_ID = "3f9a1c2b7d4e5f60718293a4b5c6d7e8"
SESSION_HASH = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) QuantumFluxTestAgent/1.0"
UID = "48151623"
CHART_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
URL_TOKEN = "tk_SuperSecretQueryValue42"
COOKIE = "cookieValueXyz789"
BINARY_TOKEN = "binTokenAbcdef012345"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlX2hlcmU"

SECRETS = [SESSION_ID, SESSION_HASH, USER_AGENT, UID, CHART_TOKEN, URL_TOKEN, COOKIE, BINARY_TOKEN, JWT]


def php_session() -> str:
    return (
        f'a:4:{{s:10:"session_id";s:32:"{SESSION_ID}";s:10:"ip_address";s:7:"0.0.0.0";'
        f's:10:"user_agent";s:{len(USER_AGENT)}:"{USER_AGENT}";s:13:"last_activity";i:1732926685;}}'
        f"{SESSION_HASH}"
    )


def b64(obj: object) -> str:
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def secret_frames() -> list[Frame]:
    real_auth = json.dumps(
        ["auth", {"session": php_session(), "isDemo": 0, "uid": int(UID), "platform": 2}],
        separators=(",", ":"),
    )
    chart_auth = json.dumps(
        [
            "auth",
            {
                "sessionToken": CHART_TOKEN,
                "uid": UID,
                "lang": "en",
                "currentUrl": "cabinet/demo-quick-high-low",
                "isChart": 1,
            },
        ],
        separators=(",", ":"),
    )
    url_with_secrets = f"{TRADE}&token={URL_TOKEN}&ci_session={COOKIE}"
    return [
        Frame(1781423520.0, "sent", "T", TRADE, 1, "42" + real_auth),
        Frame(1781423520.1, "sent", "C", TRADE, 1, "42" + chart_auth),
        Frame(1781423520.2, "recv", "U", url_with_secrets, 1, "2"),
        Frame(1781423520.3, "sent", "T", TRADE, 1, f'42["setCookie","ci_session={COOKIE}; lang=en"]'),
        Frame(1781423520.4, "recv", "T", TRADE, 1, '451-["successauth",{"_placeholder":true,"num":0}]'),
        Frame(1781423520.5, "recv", "T", TRADE, 2, b64({"id": "x", "token": BINARY_TOKEN})),
        Frame(1781423520.6, "recv", "T", TRADE, 2, b64({"isDemo": 0, "balance": 10.5, "uid": int(UID)})),
        Frame(1781423520.7, "sent", "T", TRADE, 1, f'42["auth",{{"jwt":"{JWT}"}}]'),
        # a frame cut in the middle of the session, which no JSON parser can read
        Frame(1781423520.8, "sent", "T", TRADE, 1, "42" + real_auth[: real_auth.index(SESSION_HASH) + 5]),
        # the same, as the bytes of a binary frame
        Frame(1781423520.9, "sent", "T", TRADE, 2, base64.b64encode(real_auth[:120].encode()).decode()),
    ]


def all_text(path: Path) -> str:
    """The file's bytes, plus every binary payload decoded, so nothing hides in base64."""
    raw = path.read_bytes().decode("utf-8")
    parts = [raw]
    for line in raw.splitlines():
        obj = json.loads(line)
        if obj["opcode"] == 2:
            parts.append(base64.b64decode(obj["payload"]).decode("utf-8", "replace"))
    return "\n".join(parts)


def test_no_secret_reaches_the_file_and_ticks_decode_the_same(tmp_path: Path, po_data: Path) -> None:
    real = [Frame.from_json(json.loads(x)) for x in (po_data / "sample-recording.jsonl").open()]
    frames = secret_frames() + real
    path = tmp_path / "rec.jsonl"
    with RecordingWriter(path) as writer:
        for f in frames:
            writer.write(f)

    text = all_text(path)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into the recording"
    assert text.count(PLACEHOLDER) >= 10

    back = list(read_recording(path))
    assert len(back) == len(frames)

    def decoded(fs: list[Frame]) -> list[object]:
        dec = Decoder()
        return [r for f in fs for r in dec.feed(f)]

    assert decoded(back) == decoded(frames)
    assert len([r for r in decoded(back) if type(r).__name__ == "Tick"]) == 300
    # market-data frames are kept byte for byte
    assert [f.payload for f in back[len(secret_frames()) :]] == [f.payload for f in real]


def test_auth_keeps_its_shape_with_placeholders() -> None:
    auth = secret_frames()[0]
    clean = redact(auth)
    body = json.loads(clean.payload[2:])
    assert body == ["auth", {"session": PLACEHOLDER, "isDemo": 0, "uid": PLACEHOLDER, "platform": 2}]
    chart = json.loads(redact(secret_frames()[1]).payload[2:])[1]
    assert chart["sessionToken"] == PLACEHOLDER and chart["uid"] == PLACEHOLDER
    assert chart["currentUrl"] == "cabinet/demo-quick-high-low"


def test_query_strings_keep_only_harmless_values() -> None:
    url = redact(secret_frames()[2]).url
    assert url == f"{TRADE}&token={PLACEHOLDER}&ci_session={PLACEHOLDER}"
    assert redact(Frame(1.0, "recv", "s", TRADE, 1, "2")).url == TRADE


def test_market_data_frames_are_untouched(tmp_path: Path) -> None:
    frames = [
        Frame(1.0, "recv", "s", TRADE, 1, '451-["updateHistoryNewFast",{"_placeholder":true,"num":0}]'),
        Frame(1.0, "recv", "s", TRADE, 2, b64({"asset": "A_otc", "period": 60, "history": [[1.5, 2.0]]})),
        Frame(1.0, "sent", "s", TRADE, 1, '42["changeSymbol",{"asset":"EURUSD_otc","period":60}]'),
    ]
    assert [redact(f) for f in frames] == frames


def test_reader_skips_and_counts_bad_lines(tmp_path: Path) -> None:
    good = Frame(1.0, "recv", "s", None, 1, "2")
    path = tmp_path / "rec.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(good.to_json()),
                "not json at all",
                "[1, 2, 3]",
                json.dumps({"ts": 1.0, "dir": "sideways", "socket": "s", "opcode": 1, "payload": ""}),
                json.dumps({"ts": 1.0, "dir": "recv", "socket": "s", "opcode": 1}),
                "",
                json.dumps(good.to_json()),
            ]
        )
        + "\n"
    )
    reader = read_recording(path)
    assert list(reader) == [good, good]
    assert reader.bad_lines == 4
    assert reader.errors[0].startswith("line 2:")
    assert "payload" in reader.errors[3]


def test_reader_raises_only_when_the_file_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_recording(tmp_path / "missing.jsonl")


def test_lines_are_on_disk_before_the_writer_closes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rec.jsonl"
    writer = RecordingWriter(path)
    writer.write(Frame(1.0, "recv", "s", None, 1, "2"))
    assert [f.payload for f in read_recording(path)] == ["2"]
    writer.close()


def test_frame_from_json_says_what_is_wrong() -> None:
    ok = {"ts": 1, "dir": "recv", "socket": "s", "url": None, "opcode": 2, "payload": "AA=="}
    assert Frame.from_json(ok) == Frame(1.0, "recv", "s", None, 2, "AA==")
    for bad, words in [
        ({**ok, "ts": "soon"}, "ts"),
        ({**ok, "opcode": 3}, "opcode"),
        ({**ok, "url": 5}, "url"),
        ({k: v for k, v in ok.items() if k != "socket"}, "socket"),
        ([], "object"),
    ]:
        with pytest.raises(ValueError, match=words):
            Frame.from_json(bad)


secret_value = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.:;=/+", min_size=12, max_size=60
).filter(lambda s: s.strip() == s and not s.isdigit())


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(
        ["session", "sessionToken", "token", "ci_session", "authToken", "secret", "password"]
    ),
    value=secret_value,
    binary=st.booleans(),
    where=st.sampled_from(["top", "nested", "list"]),
)
def test_any_value_under_a_secret_key_is_removed(key: str, value: str, binary: bool, where: str) -> None:
    body: object = {key: value, "isDemo": 1}
    if where == "nested":
        body = {"outer": {"inner": body}}
    elif where == "list":
        body = [{"asset": "EURUSD_otc"}, body]
    text = json.dumps(["auth", body], separators=(",", ":"))
    frame = (
        Frame(1.0, "sent", "s", TRADE, 2, base64.b64encode(text.encode()).decode())
        if binary
        else Frame(1.0, "sent", "s", TRADE, 1, "42" + text)
    )
    clean = redact(frame)
    seen = base64.b64decode(clean.payload).decode() if binary else clean.payload
    assert value not in seen
    assert '"isDemo":1' in seen


@settings(max_examples=100, deadline=None)
@given(name=st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=12), value=secret_value)
def test_any_query_value_but_the_protocol_ones_is_removed(name: str, value: str) -> None:
    from urllib.parse import quote

    url = f"{TRADE}&{name}={quote(value, safe='')}"
    clean = redact(Frame(1.0, "recv", "s", url, 1, "2")).url
    assert clean is not None and clean.startswith(TRADE)
    if name not in ("EIO", "transport"):
        from urllib.parse import parse_qsl, urlsplit

        assert parse_qsl(urlsplit(clean).query)[-1] == (name, PLACEHOLDER)


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["EURUSD_otc", "#AAPL_otc", "BNB-USD_otc", "GBPUSD"]),
            st.floats(1.6e9, 2e9).map(lambda x: round(x, 3)),
            st.floats(0.0001, 100000, allow_nan=False).map(lambda x: round(x, 5)),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_tick_bodies_are_never_changed(rows: list[tuple[str, float, float]]) -> None:
    body = base64.b64encode(json.dumps([list(r) for r in rows]).encode()).decode()
    frame = Frame(1.0, "recv", "s", TRADE, 2, body)
    assert redact(frame) == frame
