"""Recordings safe to share: market data kept, everything else reduced to its shape (pure).

A list of secret-shaped names can never be complete: the broker may add a field tomorrow, and
the balance and the deals are private without being secrets. So a shared recording keeps only
the frames the decoder reads as market data (ticks, history, assets and payouts, the chart the
user picked; both frames of a ``451-`` pair) and replaces every other frame's values by their
kinds, e.g. ``{"balance":"<number>","isDemo":"<number>"}``. The Engine.IO / Socket.IO framing
and the event name stay, so a drifted event is still visible; a socket's address loses its
query string, where the broker's page puts tokens.

:class:`ShareFilter` pairs a binary event's header with its attachments per socket and
direction, the way the decoder does, so the body of a market event is kept with its header.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orjson import loads

from quantumflux.ingest.decode import DEFAULT_WS_URL_PATTERN, OWN_SOCKET, market, platform
from quantumflux.ingest.decode.events import RECEIVED, SENT
from quantumflux.ingest.decode.framing import shape_of
from quantumflux.ingest.decode.shapes import ELLIPSIS, safe_key, sample
from quantumflux.ingest.frames import Frame

# The decoder's readers of market data; the events they read are kept whole.
_MARKET_READERS = frozenset(
    {
        market.on_ticks,
        market.on_history,
        market.on_paged_history,
        # the page's history request: a paged answer may name only the request's index
        market.on_history_request,
        platform.on_assets,
        platform.on_change_symbol,
        platform.on_save_charts,
    }
)
MARKET_RECEIVED = frozenset(name for name, reader in RECEIVED.items() if reader in _MARKET_READERS)
MARKET_SENT = frozenset(name for name, reader in SENT.items() if reader in _MARKET_READERS)

# Engine.IO packet type, Socket.IO packet type, attachment count, namespace, ack id: framing only.
_FRAMING = re.compile(r"[0-6](?:[0-6](?:\d{1,4}-)?(?:/[\w/.-]{0,64},)?\d{0,12})?")
_PROBE = re.compile(r"[23]probe")
_ATTACHMENTS = re.compile(r"45(\d{1,4})-")
_PLACEHOLDER_KEYS = frozenset({"_placeholder", "num"})


def shape(value: Any) -> Any:
    """The value with every item replaced by ``"<kind>"``; field names and nesting stay.

    Lists show their first items only (:func:`~quantumflux.ingest.decode.shapes.sample`), and a
    name that may be data (a long run of digits, an address) becomes ``<key>``.
    """
    return _bracket(sample(value))


def _bracket(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _bracket(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bracket(v) for v in value]
    if value == ELLIPSIS:
        return value
    return f"<{value}>"


def share_url(url: str | None) -> str | None:
    """The socket's address without user, query string and fragment."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<url>"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == _PLACEHOLDER_KEYS and value["_placeholder"] is True


class ShareFilter:
    """Turns each captured frame into its shared form; one instance per recording.

    ``url_pattern`` is the broker's address pattern (``QF_WS_URL_PATTERN``): on any other socket
    the decoder reads nothing, so nothing of it is market data.
    """

    def __init__(self, url_pattern: str | None = None) -> None:
        self._url_re = re.compile(url_pattern or DEFAULT_WS_URL_PATTERN)
        # (socket, direction) -> (keep the attachments?, how many are still to come)
        self._pending: dict[tuple[str, str], tuple[bool, int]] = {}
        self._foreign: dict[str, bool] = {}

    def share(self, frame: Frame) -> tuple[Frame, bool]:
        """The frame to write, and whether it was kept as market data (else it is a shape)."""
        foreign = self._is_foreign(frame)
        if frame.opcode == 2:
            keep = self._binary_kept(frame) and not foreign
            payload = frame.payload if keep else _shaped_binary(frame.payload)
        else:
            keep, payload = self._text(frame, foreign)
        return Frame(frame.ts, frame.dir, frame.socket, share_url(frame.url), frame.opcode, payload), keep

    def _is_foreign(self, frame: Frame) -> bool:
        """Whether the socket's address is known and not the broker's."""
        known = self._foreign.get(frame.socket)
        if known is None and frame.url:
            known = self._url_re.search(frame.url) is None or OWN_SOCKET.search(frame.url) is not None
            self._foreign[frame.socket] = known
        return bool(known)

    def _binary_kept(self, frame: Frame) -> bool:
        key = (frame.socket, frame.dir)
        pending = self._pending.pop(key, None)
        if pending is not None:
            keep, left = pending
            if left > 1:
                self._pending[key] = (keep, left - 1)
            return keep
        # A body without a header: the decoder guesses its event from its shape.
        body = _binary_json(frame.payload)
        return body is not None and shape_of(body) in MARKET_RECEIVED

    def _text(self, frame: Frame, foreign: bool) -> tuple[bool, str]:
        key = (frame.socket, frame.dir)
        self._pending.pop(key, None)  # a header whose attachments never came
        payload = frame.payload
        start = min((i for i in (payload.find("["), payload.find("{")) if i >= 0), default=-1)
        if start < 0:
            # Pings, pongs, connects: framing only, nothing to hide.
            plain = _FRAMING.fullmatch(payload) is not None or _PROBE.fullmatch(payload) is not None
            return plain, payload if plain else f"<text of {len(payload)} characters>"
        prefix = payload[:start]
        if not _FRAMING.fullmatch(prefix):
            return False, f"<text of {len(payload)} characters>"
        try:
            body = loads(payload[start:])
        except ValueError:
            return False, prefix + f"<unreadable, {len(payload) - start} characters>"
        if prefix[:2] not in ("42", "45") or not isinstance(body, list) or not body:
            return False, prefix + _json(shape(body))
        name = body[0] if isinstance(body[0], str) else None
        market_names = MARKET_SENT if frame.dir == "sent" else MARKET_RECEIVED
        keep = name in market_names and not foreign
        if attachments := _ATTACHMENTS.match(prefix):
            self._pending[key] = (keep, int(attachments.group(1)))
        if keep:
            return True, payload
        args = [a if _is_placeholder(a) else shape(a) for a in body[1:]]
        return False, prefix + _json([safe_key(name) if name else shape(body[0]), *args])


def _binary_json(payload: str) -> Any:
    """A binary frame's body as JSON, or None when it is not JSON."""
    return _binary_body(payload)[1]


def _binary_body(payload: str) -> tuple[int, Any]:
    """A binary frame's length in bytes, and its body as JSON (None when it is not JSON)."""
    try:
        raw = base64.b64decode(payload)
    except (binascii.Error, ValueError):
        return 0, None
    if raw[:1] == b"\x04":  # Engine.IO v3 binary marker
        raw = raw[1:]
    try:
        return len(raw), loads(raw)
    except ValueError:
        return len(raw), None


def _shaped_binary(payload: str) -> str:
    size, body = _binary_body(payload)
    text = f"<binary of {size} bytes>" if body is None else _json(shape(body))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
