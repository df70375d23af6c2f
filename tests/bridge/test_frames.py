"""The bridge's pure parts: the allowed frames, the broker's socket among the page's, the pace."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from quantumflux.bridge import ALLOWED_EVENTS, BridgeSettings, NotAllowed, outgoing_frame
from quantumflux.bridge.frames import BridgeError, Pacer, pick_socket, socket_pattern

PAGE = {"asset": "EURUSD_otc", "index": 178666390886, "time": 1786648980, "offset": 9000, "period": 60}


def test_an_allowed_request_becomes_the_pages_own_text_frame() -> None:
    text = outgoing_frame("loadHistoryPeriod", PAGE)
    assert text.startswith('42["loadHistoryPeriod",{') and " " not in text
    assert json.loads(text[2:]) == ["loadHistoryPeriod", PAGE]
    assert json.loads(outgoing_frame("loadHistoryPeriodFast", PAGE)[2:])[0] == "loadHistoryPeriodFast"
    assert set(ALLOWED_EVENTS) == {"loadHistoryPeriod", "loadHistoryPeriodFast", "openOrder"}


@pytest.mark.parametrize(
    ("event", "body"),
    [
        ("openOrder", {"asset": "EURUSD_otc", "amount": 1, "action": "call"}),  # not before trading rules
        ("changeSymbol", {"asset": "EURUSD_otc", "period": 60}),
        ("auth", {"session": "x"}),
        ("loadHistoryPeriod", {k: v for k, v in PAGE.items() if k != "index"}),
        ("loadHistoryPeriod", PAGE | {"cookie": "x"}),
        ("loadHistoryPeriod", PAGE | {"time": float("nan")}),
        ("loadHistoryPeriod", [PAGE]),
    ],
)
def test_anything_else_is_refused_with_a_plain_message(event: str, body: object) -> None:
    with pytest.raises(NotAllowed, match=event):
        outgoing_frame(event, body)  # type: ignore[arg-type]


def test_the_broker_socket_is_the_open_one_matching_the_pattern() -> None:
    pattern = socket_pattern(None)  # ingest's own pattern: the broker's hosts and the simulator
    broker = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
    ours = "ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket&client=quantumflux"
    chat = "wss://chat-po.site/cabinet-client/socket.io/?EIO=4"
    assert pick_socket([[1, chat], [1, ours], [3, broker], [1, broker]], pattern) == (3, True)
    assert pick_socket([[1, chat], [0, broker], [3, broker]], pattern) == (None, True)
    assert pick_socket([[1, chat], [1, ours]], pattern) == (None, False)
    assert pick_socket([[1, "ws://127.0.0.1:8765/socket.io/?EIO=4"]], pattern) == (0, True)
    assert pick_socket([[1, broker]], socket_pattern(r"^wss://other\.example/")) == (None, False)
    with pytest.raises(BridgeError, match="not a valid expression"):
        socket_pattern("(")


def test_the_pacer_keeps_sends_apart() -> None:
    pacer = Pacer(0.5)
    assert pacer.delay(100.0) == 0.0
    pacer.sent(100.0)
    assert pacer.delay(100.2) == pytest.approx(0.3)
    assert pacer.delay(100.5) == 0.0
    pacer.sent(101.0)
    assert pacer.delay(100.9) == pytest.approx(0.6)


def test_settings_keep_chrome_on_this_machine() -> None:
    s = BridgeSettings()
    assert (s.chrome_url, s.bridge_pace, s.ws_url_pattern) == ("http://127.0.0.1:9222", 0.5, None)
    assert BridgeSettings(chrome_url="http://localhost:9333/").chrome_url == "http://localhost:9333"
    for bad in ("http://192.168.1.5:9222", "ws://127.0.0.1:9222", "127.0.0.1:9222"):
        with pytest.raises(ValidationError, match="on this machine"):
            BridgeSettings(chrome_url=bad)
    with pytest.raises(ValidationError):
        BridgeSettings(bridge_pace=-1)
    s = BridgeSettings(ws_url_pattern="")
    assert s.ws_url_pattern is None
    with pytest.raises(ValidationError):
        s.bridge_pace = 0  # type: ignore[misc]  # frozen
