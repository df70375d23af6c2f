"""Engine.IO v4 / Socket.IO v4 framing: packet kinds, binary attachments, unannounced bodies (pure).

The broker's market data comes as two-frame binary events: a text header
``451-["updateStream",{"_placeholder":true,"num":0}]`` followed, on the same socket, by one
binary frame of UTF-8 JSON. JSON is parsed by orjson: its integers fit in 64 bits and it refuses
NaN and infinities, so every number the decoder sees is one the bus can carry.
"""

from __future__ import annotations

from typing import Any

from orjson import loads

from quantumflux.ingest.decode.state import Malformed
from quantumflux.ingest.decode.values import num

TICK_HEADER = '451-["updateStream",{"_placeholder":true,"num":0}]'

# Engine.IO packets that carry no event, by their first character, and the counter they go to.
ENGINE_PACKETS = {"0": "eio_open", "1": "eio_close", "5": "eio_other", "6": "eio_other"}
# Pings and pongs ("2", "3", "2probe"); a longer one is damage.
MAX_HEARTBEAT_LEN = 8
# Socket.IO packets that carry no event, by type.
SOCKETIO_PACKETS = {
    "0": "sio_connect",
    "1": "sio_disconnect",
    "4": "sio_connect_error",
    "3": "sio_ack",
    "6": "sio_ack",
}
# The broker sends one attachment per binary event; a few more would still be the protocol.
MAX_ATTACHMENTS = 64
# The broker's bodies are a few levels deep; a deeper one is damage, not data.
MAX_DEPTH = 32
_DIGITS = frozenset("0123456789")


class _NotJson:
    """A binary attachment that is not JSON (it still counts towards its event)."""


NOT_JSON: Any = _NotJson()


def _ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts "²" or "٣", which int() then refuses.
    return bool(text) and all(c in _DIGITS for c in text)


def parse_socketio(packet: str) -> tuple[str, int, Any] | None:
    """Split a Socket.IO packet (the text after the Engine.IO ``4``) into type, attachments, data.

    ``2["ev",…]``, ``2/ns,["ev"]``, ``212["ev"]`` (ack id), ``51-["ev",…]``; data is None when the
    packet carries none. Returns None when the packet cannot be read; raises
    :class:`Malformed` ``attachment_count`` when a binary event's count is not a small number.
    """
    ptype = packet[0]
    if ptype not in "0123456":
        return None
    i = 1
    n = len(packet)
    attachments = 0
    if ptype in "56":
        j = packet.find("-", 1)
        if j < 0:
            return None
        count = packet[1:j]
        if not _ascii_digits(count) or len(count) > 4 or not 0 < int(count) <= MAX_ATTACHMENTS:
            raise Malformed("attachment_count")
        attachments = int(count)
        i = j + 1
    if i < n and packet[i] == "/":
        j = packet.find(",", i)
        if j < 0:
            return (ptype, attachments, None)
        i = j + 1
    while i < n and packet[i] in _DIGITS:  # an ack id
        i += 1
    if i >= n:
        return (ptype, attachments, None)
    try:
        return (ptype, attachments, loads(packet[i:]))
    except ValueError:
        return None


def fill_placeholders(obj: Any, attachments: list[Any], depth: int = 0) -> Any:
    """The event's arguments with each ``{"_placeholder":true,"num":n}`` replaced by attachment n."""
    if depth > MAX_DEPTH:
        raise Malformed("too_deep")
    if isinstance(obj, dict):
        if obj.get("_placeholder") is True and type(obj.get("num")) is int:
            n = obj["num"]
            return attachments[n] if 0 <= n < len(attachments) else None
        return {k: fill_placeholders(v, attachments, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [fill_placeholders(v, attachments, depth + 1) for v in obj]
    return obj


def shape_of(body: Any) -> str | None:
    """Guess the event of a binary body that came without a header (protocol notes §9)."""
    if isinstance(body, list) and body:
        return _list_shape(body)
    if isinstance(body, dict):
        if "history" in body or "candles" in body:
            return "updateHistoryNewFast"
        if "data" in body and "index" in body:
            return "loadHistoryPeriod"
        if "balance" in body:
            return "successupdateBalance"
        if "deals" in body and "profit" in body:
            return "successcloseOrder"
        if "openTimestamp" in body and "command" in body and "id" in body:
            return "successopenOrder"
    return None


def _list_shape(body: list[Any]) -> str | None:
    row = body[0]
    if isinstance(row, str) and len(body) >= 3:
        return "updateStream"
    if isinstance(row, list) and row:
        if len(row) >= 3 and isinstance(row[0], str) and num(row[1]) is not None:
            return "updateStream"
        if len(row) == 2 and isinstance(row[0], str):
            return "chafor"
        if len(row) >= 15 and isinstance(row[0], int) and isinstance(row[1], str):
            return "updateAssets"
    return None
