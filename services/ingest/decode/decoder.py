"""Decode the broker's WebSocket frames into ticks, history batches and events (pure: no I/O).

The broker speaks Engine.IO v4 / Socket.IO v4 (see :mod:`.framing`). State is kept per socket.
What each event means is read by its subject's module (:mod:`.market`, :mod:`.trading`,
:mod:`.platform`), chosen by the table in :mod:`.events`.

Bad input never stops the decoder: a frame or an item in it that cannot be understood is counted
in :attr:`Decoder.counters` under a named reason (``malformed:<kind>``, ``rejected:<why>``) and
skipped. Any other exception out of :meth:`Decoder.feed` is a bug in the decoder.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from orjson import loads

from quantumflux.bus.records import Tick
from quantumflux.ingest.decode import market
from quantumflux.ingest.decode.events import BROKER_EVENTS, dispatch
from quantumflux.ingest.decode.framing import (
    ENGINE_PACKETS,
    MAX_HEARTBEAT_LEN,
    NOT_JSON,
    SOCKETIO_PACKETS,
    TICK_HEADER,
    fill_placeholders,
    parse_socketio,
    shape_of,
)
from quantumflux.ingest.decode.known_shapes import BARE_BINARY, BINARY_EVENT, TEXT_EVENT
from quantumflux.ingest.decode.state import DecoderState, Malformed, Output, SocketState
from quantumflux.ingest.decode.values import EARLIEST_TIME, LATEST_TIME, MAX_AHEAD
from quantumflux.ingest.frames import Frame

# The broker's hosts (protocol notes §1.1: *.po.market, including demo-api-* and try-demo-*),
# plus the simulated broker on the loopback interface.
DEFAULT_WS_URL_PATTERN = (
    r"(?i)^wss?://(?:[a-z0-9-]+\.)*po\.market(?::\d+)?/socket\.io/"
    r"|^wss?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/socket\.io/"
)

# QuantumFlux's own web app marks its Socket.IO connections (web/src/gateway.js): a chart opened
# in the same Chrome as PocketOption must never be taken for the broker, whatever the pattern says.
OWN_SOCKET = re.compile(r"[?&]client=quantumflux(?:&|#|$)")

_a2b = binascii.a2b_base64
_INF = float("inf")
# The fast path takes a tick only where market.on_ticks would take it too.
_LATEST = LATEST_TIME + MAX_AHEAD


class Decoder(DecoderState):
    """Turns captured frames into records; one instance per capture (sockets are told apart)."""

    def __init__(
        self,
        *,
        broker_utc_offset: float | None = None,
        url_pattern: str | None = DEFAULT_WS_URL_PATTERN,
    ) -> None:
        super().__init__(broker_utc_offset)
        # An empty or missing pattern means the default: the broker's hosts plus the simulator.
        self._url_re = re.compile(url_pattern or DEFAULT_WS_URL_PATTERN)

    def feed(self, frame: Frame) -> list[Output]:
        """Decode one frame; returns the records it carries (often none).

        Raises nothing on bad input (it is counted); an exception out of here is a bug.
        """
        # Fast path for the bulk of the traffic: a known broker socket's tick header, then its
        # one-row body, checked as market.on_ticks would. Anything unusual goes the general way.
        st = self._sockets.get(frame.socket)
        if st is not None and st.broker and frame.dir == "recv":
            if frame.opcode == 1:
                if frame.payload == TICK_HEADER and not st.tick_pending and not st.pending:
                    self.counters["frames"] += 1
                    st.tick_pending = True
                    return []
            elif frame.opcode == 2 and st.tick_pending and st.offset is not None:
                counters = self.counters
                counters["frames"] += 1
                st.tick_pending = False
                try:
                    body = loads(_a2b(frame.payload))
                except (ValueError, binascii.Error):
                    counters["malformed:binary_body"] += 1
                    return []
                except TypeError:  # a frame built in code whose payload is no text
                    counters["malformed:frame"] += 1
                    return []
                try:
                    # The one shape every tick has: taken here, it needs no drift check.
                    [[asset, t, price]] = body
                except (TypeError, ValueError):
                    return self._ticks(st, frame, body)
                if (
                    type(t) is float
                    and type(price) is float
                    and type(asset) is str
                    and asset
                    and 0.0 < price < _INF
                    and t >= EARLIEST_TIME
                    and type(ts := frame.ts) is float
                    and t <= ts + MAX_AHEAD <= _LATEST
                ):
                    counters["ticks"] += 1
                    return [Tick(asset, t - st.offset, price)]
                return self._ticks(st, frame, body)
        try:
            return self._frame(frame)
        except Malformed as bad:
            self.counters["malformed:" + bad.reason] += 1
            return []

    def socket_closed(self, socket: str) -> None:
        """Forget what was kept about a socket that closed."""
        self._sockets.pop(socket, None)

    def drift_report(self) -> list[dict[str, Any]]:
        """Changes in the broker's protocol found since the last call, each reported once.

        Each is a map: ``key`` (stable per change), ``event``, ``direction``, ``framing``,
        ``kind`` (``unknown_event``, ``new_field``, ``missing_field``, ``type``, ``length``,
        ``framing``), ``path``, ``change`` (in words), ``count``, ``first_seen``, ``last_seen``
        (capture times), ``shape`` (the first drifted body, field names and kinds only) and
        ``suggestion`` (what the user can do). Repeats keep counting in :meth:`drift_findings`.
        """
        return self.drift.report()

    def drift_findings(self) -> list[dict[str, Any]]:
        """Every protocol change found so far, with its current count (reported or not)."""
        return self.drift.summary()

    # ------------------------------------------------------------------ per frame

    def _frame(self, frame: Frame) -> list[Output]:
        self.counters["frames"] += 1
        if not _well_formed(frame):
            self.counters["malformed:frame"] += 1
            return []
        st = self._socket(frame.socket, frame.url)
        if st.broker is False:
            self.counters["ignored_socket"] += 1
            return []
        if frame.opcode == 1:
            return self._text_frame(st, frame)
        if frame.opcode == 2:
            return self._binary_frame(st, frame)
        self.counters["malformed:opcode"] += 1
        return []

    def _socket(self, socket: str, url: str | None) -> SocketState:
        st = self._sockets.get(socket)
        if st is None:
            st = SocketState(url=url, broker=None if url is None else self._is_broker(url))
            self._sockets[socket] = st
        elif st.url is None and url is not None:
            st.url = url
            st.broker = self._is_broker(url)
        return st

    def _is_broker(self, url: str) -> bool:
        return self._url_re.search(url) is not None and OWN_SOCKET.search(url) is None

    def _drop_pending(self, st: SocketState, direction: str | None = None) -> None:
        # A header whose binary body never came: the notes say they are always adjacent.
        if st.tick_pending and direction in (None, "recv"):
            st.tick_pending = False
            self.counters["malformed:missing_attachment"] += 1
        for d in [direction] if direction else list(st.pending):
            if st.pending.pop(d, None) is not None:
                self.counters["malformed:missing_attachment"] += 1

    # ------------------------------------------------------------------ text frames

    def _text_frame(self, st: SocketState, frame: Frame) -> list[Output]:
        payload = frame.payload
        if payload == TICK_HEADER and frame.dir == "recv":
            if st.tick_pending or st.pending:
                self._drop_pending(st)
            st.tick_pending = True
            st.broker = True
            return []
        if frame.dir in st.pending or (st.tick_pending and frame.dir == "recv"):
            self._drop_pending(st, frame.dir)
        if st.broker is None and not payload.startswith("4"):
            # Not yet known to be the broker's, and nothing here that could tell.
            self.counters["ignored_socket"] += 1
            return []
        if not payload:
            self.counters["malformed:empty_text"] += 1
            return []
        kind = payload[0]
        if kind in "23" and len(payload) <= MAX_HEARTBEAT_LEN:
            self.counters["heartbeat"] += 1
        elif kind in ENGINE_PACKETS:
            self.counters[ENGINE_PACKETS[kind]] += 1
        elif kind != "4" or len(payload) < 2:
            self.counters["malformed:text"] += 1
        else:
            return self._socketio(st, frame, payload[1:])
        return []

    def _socketio(self, st: SocketState, frame: Frame, packet: str) -> list[Output]:
        counters = self.counters
        try:
            parsed = parse_socketio(packet)
        except Malformed:
            if st.broker is None:
                parsed = None
            else:
                raise
        if parsed is None:
            counters["ignored_socket" if st.broker is None else "malformed:socketio"] += 1
            return []
        ptype, attachments, data = parsed
        if st.broker is None and ptype not in "25":
            counters["ignored_socket"] += 1
            return []
        if ptype in SOCKETIO_PACKETS:
            counters[SOCKETIO_PACKETS[ptype]] += 1
            return []
        # ptype "2" (event) or "5" (binary event)
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            counters["ignored_socket" if st.broker is None else "malformed:event"] += 1
            return []
        name = data[0]
        if st.broker is None:
            if name not in BROKER_EVENTS:
                counters["ignored_socket"] += 1
                return []
            st.broker = True
        args = data[1:]
        if ptype == "5":
            st.pending[frame.dir] = (name, args, attachments, [])
            return []
        return dispatch(self, st, frame, name, args[0] if args else None, TEXT_EVENT)

    # ------------------------------------------------------------------ binary frames

    def _ticks(self, st: SocketState, frame: Frame, body: Any) -> list[Output]:
        # A tick body the fast path did not take: compared with its known shape, then read.
        self.drift.observe("recv", BINARY_EVENT, "updateStream", body, frame.ts)
        return market.on_ticks(self, st, frame, body)

    def _binary_frame(self, st: SocketState, frame: Frame) -> list[Output]:
        if st.tick_pending and frame.dir == "recv":
            st.tick_pending = False
            try:
                ticks = loads(_a2b(frame.payload))
            except (ValueError, binascii.Error):
                self.counters["malformed:binary_body"] += 1
                return []
            return self._ticks(st, frame, ticks)
        try:
            raw = _a2b(frame.payload)
        except (ValueError, binascii.Error):
            self.counters["malformed:base64"] += 1
            self._drop_pending(st, frame.dir)
            return []
        if raw[:1] == b"\x04":  # Engine.IO v3 binary marker; harmless to strip
            raw = raw[1:]
        try:
            body: Any = loads(raw)
        except ValueError:
            body = NOT_JSON
        if frame.dir in st.pending:
            return self._attachment(st, frame, body)
        return self._unannounced(st, frame, body)

    def _attachment(self, st: SocketState, frame: Frame, body: Any) -> list[Output]:
        name, args, needed, got = st.pending[frame.dir]
        got.append(body)
        if len(got) < needed:
            return []
        del st.pending[frame.dir]
        if any(b is NOT_JSON for b in got):
            self.counters["malformed:binary_body"] += 1
            return []
        filled = [fill_placeholders(a, got) for a in args]
        return dispatch(self, st, frame, name, filled[0] if filled else None, BINARY_EVENT)

    def _unannounced(self, st: SocketState, frame: Frame, body: Any) -> list[Output]:
        # A binary body with no header before it: its event is guessed from its shape.
        shape = None if body is NOT_JSON else shape_of(body)
        if st.broker is None:
            if shape != "updateStream":
                self.counters["ignored_socket"] += 1
                return []
            st.broker = True
        if body is NOT_JSON:
            self.counters["malformed:binary_body"] += 1
            return []
        if shape is None:
            self.counters["unknown_binary"] += 1
            self.drift.unannounced(body, frame.ts)
            return []
        self.counters["unannounced_binary"] += 1
        return dispatch(self, st, frame, shape, body, BARE_BINARY)


def _well_formed(frame: Frame) -> bool:
    """Whether a frame has the field types :class:`Frame` promises (one built in code may not)."""
    ts = frame.ts
    url = frame.url
    return (
        type(frame.socket) is str
        and (url is None or type(url) is str)
        and type(frame.payload) is str
        and (frame.dir == "recv" or frame.dir == "sent")
        and (type(ts) is float or type(ts) is int)
    )
