"""Decode the broker's WebSocket frames into ticks, history batches and events (pure: no I/O).

The broker speaks Engine.IO v4 / Socket.IO v4. Market data comes as two-frame binary events: a
text header ``451-["updateStream",{"_placeholder":true,"num":0}]`` followed, on the same socket,
by one binary frame of UTF-8 JSON. State is kept per socket. Times in the broker's frames run
ahead of UTC (about +7200 s); everything published here is UTC. The user's own deals are read
too (``deal`` / ``deals`` events, without the account's uid), with their clock measured apart.
Nothing here raises on bad input: a frame that cannot be understood is counted in
:attr:`Decoder.counters` and skipped.
"""

from __future__ import annotations

import binascii
import collections
import datetime
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.bus.records import Event, HistoryBatch, Tick
from services.ingest.frames import Frame

_T = TypeVar("_T")

Output = Tick | HistoryBatch | Event

# The broker's hosts (protocol notes §1.1: *.po.market, including demo-api-* and try-demo-*),
# plus the simulated broker on the loopback interface.
DEFAULT_WS_URL_PATTERN = (
    r"(?i)^wss?://(?:[a-z0-9-]+\.)*po\.market(?::\d+)?/socket\.io/"
    r"|^wss?://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/socket\.io/"
)

# QuantumFlux's own web app marks its Socket.IO connections (web/src/gateway.js): a chart opened
# in the same Chrome as PocketOption must never be taken for the broker, whatever the pattern says.
OWN_SOCKET = re.compile(r"[?&]client=quantumflux(?:&|#|$)")

TICK_HEADER = '451-["updateStream",{"_placeholder":true,"num":0}]'
HISTORY_EVENTS = frozenset({"updateHistoryNewFast", "updateHistoryNew"})
PAGED_HISTORY_EVENTS = frozenset({"loadHistoryPeriod", "loadHistoryPeriodFast"})
# The user's own deals (protocol notes §6), read passively like everything else.
DEAL_EVENTS = frozenset(
    {"successopenOrder", "successcloseOrder", "failopenOrder", "updateOpenedDeals", "updateClosedDeals"}
)
# Events the broker's sockets carry that we recognise but do not publish.
QUIET_EVENTS = frozenset(
    {
        "successauth",
        "updateCharts",
        "updateTime",
        "successopenPendingOrder",
        "failopenPendingOrder",
        "NotAuthorized",
        "notAuthorized",
        "auth_error",
    }
)
SENT_EVENTS = frozenset(
    {
        "auth",
        "ps",
        "subfor",
        "unsubfor",
        "subscribeSymbol",
        "unSubscribeSymbol",
        "assets/load",
        "indicator/load",
        "favorite/load",
        "price-alert/load",
        "getBalance",
        "updateBalance",
        "openOrder",
    }
)
# Names that tell a socket without a URL is the broker's.
BROKER_EVENTS = (
    frozenset(
        {
            "updateStream",
            "updateAssets",
            "successupdateBalance",
            "chafor",
            "changeSymbol",
            "saveCharts",
        }
    )
    | HISTORY_EVENTS
    | PAGED_HISTORY_EVENTS
    | DEAL_EVENTS
    | QUIET_EVENTS - {"NotAuthorized", "notAuthorized", "auth_error"}
)

# saveCharts' chartPeriod as an internal id (protocol notes §4, S4's table).
CHART_PERIOD_IDS = {
    15: 1,
    0: 5,
    1: 10,
    2: 15,
    3: 30,
    4: 60,
    13: 120,
    14: 180,
    6: 300,
    7: 600,
    8: 900,
    9: 1800,
    10: 3600,
    11: 14400,
    12: 86400,
}

CHART_PERIOD_SECONDS = frozenset(CHART_PERIOD_IDS.values()) | {20, 45, 2700, 7200, 10800}

OFFSET_STEP = 1800.0
# Used only before any socket has shown a tick (protocol notes §2: +7200 s in every capture).
ASSUMED_OFFSET = 7200.0
# No time zone is further than 14 h from UTC.
MAX_OFFSET = 14 * 3600.0
MAX_COUNTER_NAMES = 200
MAX_NAME_LEN = 48
# Orders the page sent that have no answer yet, per socket (to describe a failed one).
MAX_PENDING_ORDERS = 32
MAX_ERROR_LEN = 200
# A deal's fields as published, in order; unknown ones are None.
DEAL_FIELDS = (
    "state",
    "id",
    "asset",
    "direction",
    "amount",
    "open_time",
    "close_time",
    "open_price",
    "close_price",
    "profit",
    "payout_percent",
    "is_demo",
    "currency",
)

_loads: Callable[[str | bytes], Any]
try:
    # orjson parses a tick body about 5x faster than the standard library; both reject bad JSON
    # with a ValueError.
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _loads = json.loads
_a2b = binascii.a2b_base64
_isfinite = math.isfinite


@dataclass(slots=True)
class _Socket:
    """What the decoder remembers about one WebSocket."""

    url: str | None
    broker: bool | None  # None: not yet known (no URL, no broker content seen yet)
    offset: float | None = None
    tick_pending: bool = False  # the last frame was the updateStream header
    pending: dict[str, tuple[str, list[Any], int, list[Any]]] = field(default_factory=dict)
    period: int | None = None  # from the last changeSymbol sent on this socket
    periods_by_index: dict[Any, int] = field(default_factory=dict)
    orders: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_PENDING_ORDERS)
    )


class Decoder:
    """Turns captured frames into records; one instance per capture (sockets are told apart)."""

    def __init__(
        self,
        *,
        broker_utc_offset: float | None = None,
        url_pattern: str | None = DEFAULT_WS_URL_PATTERN,
    ) -> None:
        self.broker_utc_offset = broker_utc_offset
        # An empty or missing pattern means the default: the broker's hosts plus the simulator.
        self._url_re = re.compile(url_pattern or DEFAULT_WS_URL_PATTERN)
        self._sockets: dict[str, _Socket] = {}
        self._last_offset: float | None = broker_utc_offset
        # The deals' clock, measured apart from the ticks' (see _measure_deal_clock).
        self._deal_offset: float | None = None
        self.counters: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------ entry points

    def feed(self, frame: Frame) -> list[Output]:
        """Decode one frame; returns the records it carries (often none). Never raises."""
        try:
            # Fast path for the bulk of the traffic: a known broker socket's tick header, then its
            # one-row body. Anything unusual goes the general way below.
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
                        body = _loads(_a2b(frame.payload))
                    except (ValueError, binascii.Error):
                        counters["malformed:binary_body"] += 1
                        return []
                    if type(body) is list and len(body) == 1:
                        row = body[0]
                        if type(row) is list and len(row) == 3:
                            asset, t, price = row
                            if (
                                type(asset) is str
                                and asset
                                and type(t) is float
                                and type(price) is float
                                and 0 < t < 1e12
                                and _isfinite(price)
                            ):
                                counters["ticks"] += 1
                                return [Tick(asset, t - st.offset, price)]
                    return self._ticks(st, frame, body)
            return self._feed(frame)
        except Exception as exc:  # a bug or a shape nobody foresaw must not stop the capture
            self.counters["malformed:" + type(exc).__name__] += 1
            st = self._sockets.get(frame.socket) if isinstance(frame.socket, str) else None
            if st is not None:
                st.tick_pending = False
                st.pending.clear()
            return []

    def socket_closed(self, socket: str) -> None:
        """Forget what was kept about a socket that closed."""
        self._sockets.pop(socket, None)

    # ------------------------------------------------------------------ per frame

    def _feed(self, frame: Frame) -> list[Output]:
        counters = self.counters
        counters["frames"] += 1
        st = self._sockets.get(frame.socket)
        if st is None:
            st = self._new_socket(frame)
        elif st.url is None and frame.url is not None:
            st.url = frame.url
            st.broker = self._is_broker(frame.url)
        if st.broker is False:
            counters["ignored_socket"] += 1
            return []

        payload = frame.payload
        if frame.opcode == 1:
            # Fast path: the tick header, then its binary body.
            if payload == TICK_HEADER and frame.dir == "recv":
                if st.tick_pending or st.pending:
                    self._drop_pending(st)
                st.tick_pending = True
                st.broker = True
                return []
            if frame.dir in st.pending or (st.tick_pending and frame.dir == "recv"):
                self._drop_pending(st, frame.dir)
            return self._text(st, frame, payload)
        if frame.opcode == 2:
            if st.tick_pending and frame.dir == "recv":
                st.tick_pending = False
                try:
                    body = _loads(_a2b(payload))
                except (ValueError, binascii.Error):
                    counters["malformed:binary_body"] += 1
                    return []
                return self._ticks(st, frame, body)
            return self._binary(st, frame, payload)
        counters["malformed:opcode"] += 1
        return []

    def _new_socket(self, frame: Frame) -> _Socket:
        url = frame.url
        if not isinstance(frame.socket, str):
            raise TypeError("socket id is not a string")
        broker = None if url is None else self._is_broker(url)
        st = _Socket(url=url, broker=broker)
        self._sockets[frame.socket] = st
        return st

    def _is_broker(self, url: str) -> bool:
        return self._url_re.search(url) is not None and OWN_SOCKET.search(url) is None

    def _drop_pending(self, st: _Socket, direction: str | None = None) -> None:
        # A header whose binary body never came: the notes say they are always adjacent.
        if st.tick_pending and direction in (None, "recv"):
            st.tick_pending = False
            self.counters["malformed:missing_attachment"] += 1
        for d in [direction] if direction else list(st.pending):
            if st.pending.pop(d, None) is not None:
                self.counters["malformed:missing_attachment"] += 1

    # ------------------------------------------------------------------ Engine.IO / Socket.IO text

    def _text(self, st: _Socket, frame: Frame, payload: str) -> list[Output]:
        counters = self.counters
        if st.broker is None and not payload.startswith("4"):
            # Not yet known to be the broker's, and nothing here that could tell.
            counters["ignored_socket"] += 1
            return []
        if not payload:
            counters["malformed:empty_text"] += 1
            return []
        kind = payload[0]
        if kind in "23" and len(payload) <= 8:
            counters["heartbeat"] += 1
            return []
        if kind == "0":
            counters["eio_open"] += 1
            return []
        if kind == "1":
            counters["eio_close"] += 1
            return []
        if kind == "6" or kind == "5":
            counters["eio_other"] += 1
            return []
        if kind != "4" or len(payload) < 2:
            counters["malformed:text"] += 1
            return []
        packet = parse_socketio(payload[1:])
        if packet is None:
            counters["ignored_socket" if st.broker is None else "malformed:socketio"] += 1
            return []
        ptype, attachments, data = packet
        if st.broker is None and ptype not in "25":
            counters["ignored_socket"] += 1
            return []
        if ptype == "0":
            counters["sio_connect"] += 1
            return []
        if ptype == "1":
            counters["sio_disconnect"] += 1
            return []
        if ptype == "4":
            counters["sio_connect_error"] += 1
            return []
        if ptype in "36":
            counters["sio_ack"] += 1
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
            if attachments <= 0:
                counters["malformed:event"] += 1
                return []
            st.pending[frame.dir] = (name, args, attachments, [])
            return []
        return self._event(st, frame, name, args[0] if args else None)

    # ------------------------------------------------------------------ binary frames

    def _binary(self, st: _Socket, frame: Frame, payload: str) -> list[Output]:
        counters = self.counters
        try:
            raw = _a2b(payload)
        except (ValueError, binascii.Error):
            counters["malformed:base64"] += 1
            self._drop_pending(st, frame.dir)
            return []
        if raw[:1] == b"\x04":  # Engine.IO v3 binary marker; harmless to strip
            raw = raw[1:]
        try:
            body: Any = _loads(raw)
        except ValueError:
            body = _NOT_JSON
        pending = st.pending.get(frame.dir)
        if pending is not None:
            name, args, needed, got = pending
            got.append(body)
            if len(got) < needed:
                return []
            del st.pending[frame.dir]
            if any(b is _NOT_JSON for b in got):
                counters["malformed:binary_body"] += 1
                return []
            filled = [_fill_placeholders(a, got) for a in args]
            return self._event(st, frame, name, filled[0] if filled else None)
        shape = None if body is _NOT_JSON else _shape_of(body)
        if st.broker is None:
            if shape != "updateStream":
                counters["ignored_socket"] += 1
                return []
            st.broker = True
        if body is _NOT_JSON:
            counters["malformed:binary_body"] += 1
            return []
        if shape is None:
            counters["unknown_binary"] += 1
            return []
        name = shape
        counters["unannounced_binary"] += 1
        return self._event(st, frame, name, body)

    # ------------------------------------------------------------------ events

    def _event(self, st: _Socket, frame: Frame, name: str, body: Any) -> list[Output]:
        sent = frame.dir == "sent"
        if sent:
            if name == "changeSymbol":
                return self._change_symbol(st, frame, body)
            if name == "saveCharts":
                return self._save_charts(st, frame, body)
            if name in PAGED_HISTORY_EVENTS:
                self._remember_request(st, body)
                return []
            if name == "openOrder":
                self._remember_order(st, body)
                return []
            if name in SENT_EVENTS or name in BROKER_EVENTS:
                self.counters["unused_event:" + name] += 1
                return []
        else:
            if name == "updateStream":
                return self._ticks(st, frame, body)
            if name in HISTORY_EVENTS:
                return self._history(st, frame, body)
            if name in PAGED_HISTORY_EVENTS:
                return self._paged_history(st, frame, body)
            if name == "updateAssets":
                return self._assets(frame, body)
            if name == "successupdateBalance":
                return self._balance(frame, body)
            if name == "chafor":
                return self._sentiment(frame, body)
            if name in DEAL_EVENTS:
                return self._deal_event(st, frame, name, body)
            if name in QUIET_EVENTS or name in BROKER_EVENTS:
                self.counters["unused_event:" + name] += 1
                return []
        self._count_name("unknown_event:", name)
        return []

    def _count_name(self, prefix: str, name: str) -> None:
        # Names come from the wire: bound how many distinct counters they can create.
        key = prefix + name[:MAX_NAME_LEN]
        if key not in self.counters and len(self.counters) >= MAX_COUNTER_NAMES:
            key = prefix + "(other)"
        self.counters[key] += 1

    # ------------------------------------------------------------------ clock

    def _offset(self, st: _Socket, broker_ts: float, wall_ts: float) -> float:
        off = st.offset
        if off is None:
            if self.broker_utc_offset is not None:
                off = float(self.broker_utc_offset)
            else:
                gap = broker_ts - wall_ts
                if not (_isfinite(gap) and abs(gap) <= MAX_OFFSET):
                    # A capture time or tick time far off (clock not set, a bad frame): do not
                    # let it shift this socket for good; measure again on the next tick.
                    self.counters["offset_implausible"] += 1
                    return self._last_offset if self._last_offset is not None else ASSUMED_OFFSET
                off = round(gap / OFFSET_STEP) * OFFSET_STEP
                self.counters["offset_measured"] += 1
            st.offset = off
            self._last_offset = off
        return off

    def _offset_without_tick(self, st: _Socket) -> float:
        # History with no tick to measure from: the last offset seen on any socket, else the usual one.
        if st.offset is not None:
            return st.offset
        if self._last_offset is not None:
            return self._last_offset
        self.counters["offset_assumed"] += 1
        return ASSUMED_OFFSET

    # ------------------------------------------------------------------ ticks

    def _ticks(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if type(body) is not list or not body:
            self.counters["malformed:tick"] += 1
            return []
        if type(body[0]) is str:  # the flat form ["SYM", t, p]
            body = [body]
        out: list[Output] = []
        off = st.offset
        for row in body:
            try:
                asset, t, price = row[0], row[1], row[2]
            except (TypeError, IndexError, KeyError):
                self.counters["malformed:tick"] += 1
                continue
            tt = type(t)
            tp = type(price)
            if (
                type(asset) is not str
                or not asset
                or (tt is not float and tt is not int)
                or (tp is not float and tp is not int)
                or not _isfinite(t)
                or not _isfinite(price)
                or t <= 0
            ):
                self.counters["malformed:tick"] += 1
                continue
            if t > 1e12:
                t = t / 1000.0
            if off is None:
                off = self._offset(st, t, frame.ts)
            out.append(Tick(asset, t - off, float(price)))
        self.counters["ticks"] += len(out)
        return out

    # ------------------------------------------------------------------ history

    def _history(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if not isinstance(body, dict):
            self.counters["malformed:history"] += 1
            return []
        found = self._history_of(st, body, by_index=False)
        if found is None:
            return []
        raw_ticks = body.get("history") or []
        raw_candles = body.get("candles") or []
        if not isinstance(raw_ticks, list) or not isinstance(raw_candles, list):
            self.counters["malformed:history"] += 1
            return []
        ticks = self._valid(map(_history_tick, raw_ticks), "malformed:history_tick")
        if st.offset is None and ticks and self.broker_utc_offset is None:
            # The newest history tick is as fresh as a live one: measure the clock from it.
            self._offset(st, max(t for t, _ in ticks), frame.ts)
        off = self._offset_without_tick(st)
        candles = self._valid(map(self._array_candle, raw_candles), "malformed:candle")
        return self._batch(frame, *found, candles, ticks, off)

    def _paged_history(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            self.counters["malformed:history"] += 1
            return []
        found = self._history_of(st, body, by_index=True)
        if found is None:
            return []
        off = self._offset_without_tick(st)
        # Pages mix ticks ({time, price}) with candle objects.
        tick_rows = []
        candle_items = []
        for item in body["data"]:
            if isinstance(item, dict) and "price" in item and "open" not in item:
                tick_rows.append([item.get("time"), item.get("price")])
            else:
                candle_items.append(item)
        ticks = self._valid(map(_history_tick, tick_rows), "malformed:history_tick")
        candles = self._valid(map(_object_candle, candle_items), "malformed:candle")
        return self._batch(frame, *found, candles, ticks, off)

    def _history_of(self, st: _Socket, body: dict[str, Any], by_index: bool) -> tuple[str, int] | None:
        """The asset and period a history answer is for (counted as malformed when missing)."""
        asset = body.get("asset")
        if not isinstance(asset, str) or not asset:
            self.counters["malformed:history"] += 1
            return None
        period = _as_period(body.get("period"))
        if period is None and by_index:
            # A paged answer may name only the request it answers.
            index = body.get("index")
            if isinstance(index, int | str):
                period = st.periods_by_index.pop(index, None)
        if period is None:
            period = st.period
        if period is None:
            self.counters["malformed:history_no_period"] += 1
            return None
        return asset, period

    def _valid(self, parsed: Iterable[_T | None], malformed: str) -> list[_T]:
        """The rows that parsed; each one that did not is counted under ``malformed``."""
        out: list[_T] = []
        for row in parsed:
            if row is None:
                self.counters[malformed] += 1
            else:
                out.append(row)
        return out

    def _batch(
        self,
        frame: Frame,
        asset: str,
        period: int,
        candles: list[tuple[int, float, float, float, float]],
        ticks: list[tuple[float, float]],
        off: float,
    ) -> list[Output]:
        ioff = int(off)
        utc_candles = sorted(((t - ioff, o, h, lo, c) for t, o, h, lo, c in candles), key=_first)
        utc_ticks = sorted(((t - off, p) for t, p in ticks), key=_first)
        self.counters["history"] += 1
        batch = HistoryBatch(asset, period, tuple(utc_candles), tuple(utc_ticks))
        loaded = Event(
            "history_loaded",
            frame.ts,
            {"asset": asset, "period": period, "candles": len(utc_candles), "ticks": len(utc_ticks)},
        )
        self.counters["events"] += 1
        return [batch, loaded]

    def _array_candle(self, row: Any) -> tuple[int, float, float, float, float] | None:
        """``[t, open, close, high, low(, volume)]`` → ``(t, open, high, low, close)``."""
        if not isinstance(row, list) or len(row) < 5:
            return None
        t = _time(row[0])
        o, c, h, lo = (_num(v) for v in row[1:5])
        if t is None or o is None or c is None or h is None or lo is None:
            return None
        if _consistent(o, h, lo, c):
            return (int(t), o, h, lo, c)
        # Some clients see [t, o, h, l, c]; take it only when the broker's order cannot be right.
        o2, h2, l2, c2 = o, c, h, lo
        if _consistent(o2, h2, l2, c2):
            self.counters["candle_layout_ohlc"] += 1
            return (int(t), o2, h2, l2, c2)
        return None

    # ------------------------------------------------------------------ what the user selected

    def _change_symbol(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if not isinstance(body, dict):
            self.counters["malformed:changeSymbol"] += 1
            return []
        asset = body.get("asset")
        period = _as_period(body.get("period"))
        if not isinstance(asset, str) or not asset or period is None:
            self.counters["malformed:changeSymbol"] += 1
            return []
        st.period = period
        self.counters["events"] += 1
        return [
            Event("platform_state", frame.ts, {"asset": asset, "period": period, "source": "changeSymbol"})
        ]

    def _save_charts(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if isinstance(body, str):
            try:
                body = _loads(body)
            except ValueError:
                self.counters["malformed:saveCharts"] += 1
                return []
        entries: list[Any]
        if isinstance(body, dict) and isinstance(body.get("settings"), list):
            entries = body["settings"]
        elif isinstance(body, dict):
            entries = [body]
        elif isinstance(body, list):
            entries = body
        else:
            self.counters["malformed:saveCharts"] += 1
            return []
        for entry in entries:
            if isinstance(entry, str):
                try:
                    entry = _loads(entry)
                except ValueError:
                    continue
            if isinstance(entry, dict) and isinstance(entry.get("symbol"), str) and entry["symbol"]:
                # The period from changeSymbol (seconds) is authoritative; chartPeriod only fills in
                # before any changeSymbol, read as the app's internal id where it can be one.
                period = st.period if st.period is not None else _chart_period(entry.get("chartPeriod"))
                self.counters["events"] += 1
                return [
                    Event(
                        "platform_state",
                        frame.ts,
                        {"asset": entry["symbol"], "period": period, "source": "saveCharts"},
                    )
                ]
        self.counters["malformed:saveCharts"] += 1
        return []

    def _remember_request(self, st: _Socket, body: Any) -> None:
        if isinstance(body, dict):
            index = body.get("index")
            period = _as_period(body.get("period"))
            if isinstance(index, int | str) and period is not None:
                if len(st.periods_by_index) > 1000:
                    st.periods_by_index.clear()
                st.periods_by_index[index] = period
        self.counters["history_requests"] += 1

    # ------------------------------------------------------------------ the user's deals

    def _deal_event(self, st: _Socket, frame: Frame, name: str, body: Any) -> list[Output]:
        counters = self.counters
        if name == "successopenOrder":
            if isinstance(body, dict):
                self._measure_deal_clock(body.get("openTimestamp"), frame.ts)
            deal = self._deal(body, "open")
            if deal is None:
                counters["malformed:deal"] += 1
                return []
            self._take_order(st, body)
            counters["deals"] += 1
            counters["events"] += 1
            return [Event("deal", frame.ts, deal)]
        if name == "successcloseOrder":
            # {profit, deals: [...]} (the broker's form) or a bare list of deals (older clients').
            rows = body.get("deals") if isinstance(body, dict) else body
            if not isinstance(rows, list):
                counters["malformed:deal"] += 1
                return []
            for row in rows:
                if isinstance(row, dict) and row.get("closeTimestamp") is not None:
                    self._measure_deal_clock(row.get("closeTimestamp"), frame.ts)
                    break
            out: list[Output] = []
            for row in rows:
                deal = self._deal(row, "closed")
                if deal is None:
                    counters["malformed:deal"] += 1
                else:
                    out.append(Event("deal", frame.ts, deal))
            counters["deals"] += len(out)
            counters["events"] += len(out)
            return out
        if name == "failopenOrder":
            return self._failed_order(st, frame, body)
        # updateOpenedDeals / updateClosedDeals: the whole list, possibly empty ("no open deals").
        state = "open" if name == "updateOpenedDeals" else "closed"
        if not isinstance(body, list):
            counters["malformed:deal_list"] += 1
            return []
        deals = []
        for row in body:
            deal = self._deal(row, state)
            if deal is None:
                counters["malformed:deal"] += 1
            else:
                deals.append(deal)
        counters["events"] += 1
        return [Event("deals", frame.ts, {"state": state, "deals": deals})]

    def _measure_deal_clock(self, broker_ts: Any, wall_ts: float) -> None:
        """Learn the deals' clock from an order opened or closed just now.

        Whether deal times run ahead of UTC like tick times is not known (protocol notes §9), so
        the decoder measures it on its own: the broker's time of an order that has just opened
        (or closed) minus the capture time of the frame that says so, rounded to 30 minutes.
        """
        if self._deal_offset is not None:
            return
        t = _time(broker_ts)
        if t is None:
            return
        gap = t - wall_ts
        if not (_isfinite(gap) and abs(gap) <= MAX_OFFSET):
            self.counters["deal_offset_implausible"] += 1
            return
        self._deal_offset = round(gap / OFFSET_STEP) * OFFSET_STEP
        self.counters["deal_offset_measured"] += 1

    def _deal_clock(self) -> float:
        if self._deal_offset is not None:
            return self._deal_offset
        # Nothing measured yet (a list of deals before any order): take the deal times as UTC.
        self.counters["deal_offset_assumed"] += 1
        return 0.0

    def _deal(self, obj: Any, state: str) -> dict[str, Any] | None:
        """A deal object → the published deal, or None when it lacks an id, asset or amount.

        Only the fields listed in :data:`DEAL_FIELDS` are copied: the account's ``uid`` and
        anything else the broker adds never leave the decoder.
        """
        if not isinstance(obj, dict):
            return None
        deal_id = obj.get("id")
        uuid = obj.get("uuid")
        if isinstance(uuid, str) and uuid and not isinstance(deal_id, str):
            deal_id = uuid  # the older form: an integer id plus a uuid
        elif type(deal_id) is int:
            deal_id = str(deal_id)
        asset = obj.get("asset")
        amount = _num(obj.get("amount"))
        if (
            not isinstance(deal_id, str)
            or not deal_id
            or len(deal_id) > MAX_NAME_LEN * 2
            or not isinstance(asset, str)
            or not asset
            or amount is None
            or amount < 0
        ):
            return None
        off = self._deal_clock()
        closed = state == "closed"
        is_demo = obj.get("isDemo")
        currency = obj.get("currency")
        return {
            "state": state,
            "id": deal_id,
            "asset": asset,
            "direction": _direction(obj.get("command"), obj.get("action")),
            "amount": amount,
            "open_time": _deal_time(obj.get("openTimestamp"), obj.get("openMs"), obj.get("openTime"), off),
            "close_time": _deal_time(
                obj.get("closeTimestamp"), obj.get("closeMs"), obj.get("closeTime"), off
            ),
            "open_price": _num(obj.get("openPrice")),
            # While open the broker sends closePrice 0 and profit = the profit a win would make.
            "close_price": _num(obj.get("closePrice")) if closed else None,
            "profit": _num(obj.get("profit")) if closed else None,
            "payout_percent": _num(obj.get("percentProfit")),
            "is_demo": bool(is_demo) if isinstance(is_demo, int | bool) else None,
            "currency": currency if isinstance(currency, str) and currency else None,
        }

    def _remember_order(self, st: _Socket, body: Any) -> None:
        # What the page asked for, to describe the order if the broker refuses it.
        self.counters["orders_sent"] += 1
        if not isinstance(body, dict):
            return
        is_demo = body.get("isDemo")
        st.orders.append(
            {
                "request_id": body.get("requestId"),
                "asset": body.get("asset") if isinstance(body.get("asset"), str) else None,
                "amount": _num(body.get("amount")),
                "direction": _direction(None, body.get("action")),
                "is_demo": bool(is_demo) if isinstance(is_demo, int | bool) else None,
            }
        )

    def _take_order(self, st: _Socket, body: Any) -> dict[str, Any] | None:
        """The page's order this answer is about (by requestId, else by asset and amount)."""
        if not st.orders or not isinstance(body, dict):
            return None
        rid = body.get("requestId")
        asset = body.get("asset")
        amount = _num(body.get("amount"))
        match = None
        if rid is not None and rid != 0:
            match = next((o for o in st.orders if o["request_id"] == rid), None)
        if match is None:
            match = next(
                (
                    o
                    for o in st.orders
                    if (asset is None or o["asset"] == asset) and (amount is None or o["amount"] == amount)
                ),
                None,
            )
        if match is not None:
            st.orders.remove(match)
        return match

    def _failed_order(self, st: _Socket, frame: Frame, body: Any) -> list[Output]:
        if isinstance(body, str):
            body = {"error": body}
        if not isinstance(body, dict):
            self.counters["malformed:deal"] += 1
            return []
        order = self._take_order(st, body) or {}
        asset = body.get("asset")
        if not isinstance(asset, str) or not asset:
            asset = order.get("asset")
        amount = _num(body.get("amount"))
        is_demo = body.get("isDemo")
        error = body.get("error")
        deal: dict[str, Any] = dict.fromkeys(DEAL_FIELDS)
        deal.update(
            {
                "state": "failed",
                "asset": asset,
                "direction": order.get("direction"),
                "amount": amount if amount is not None else order.get("amount"),
                "is_demo": bool(is_demo) if isinstance(is_demo, int | bool) else order.get("is_demo"),
                "error": str(error)[:MAX_ERROR_LEN] if error is not None else "",
            }
        )
        self.counters["deals_failed"] += 1
        self.counters["events"] += 1
        return [Event("deal", frame.ts, deal)]

    # ------------------------------------------------------------------ assets, balance, sentiment

    def _assets(self, frame: Frame, body: Any) -> list[Output]:
        if not isinstance(body, list):
            self.counters["malformed:assets"] += 1
            return []
        assets = []
        for row in body:
            item = _asset_row(row)
            if item is None:
                self.counters["malformed:asset_row"] += 1
            else:
                assets.append(item)
        if not assets:
            self.counters["malformed:assets"] += 1
            return []
        self.counters["events"] += 1
        return [Event("assets", frame.ts, {"assets": assets})]

    def _balance(self, frame: Frame, body: Any) -> list[Output]:
        if not isinstance(body, dict):
            self.counters["malformed:balance"] += 1
            return []
        balance = _num(body.get("balance"))
        if balance is None:
            self.counters["malformed:balance"] += 1
            return []
        self.counters["events"] += 1
        return [Event("balance", frame.ts, {"balance": balance, "is_demo": bool(body.get("isDemo"))})]

    def _sentiment(self, frame: Frame, body: Any) -> list[Output]:
        if isinstance(body, list) and body and isinstance(body[0], str):
            body = [body]
        if not isinstance(body, list):
            self.counters["malformed:sentiment"] += 1
            return []
        out: list[Output] = []
        for row in body:
            if (
                isinstance(row, list)
                and len(row) >= 2
                and isinstance(row[0], str)
                and row[0]
                and _num(row[1]) is not None
            ):
                out.append(Event("sentiment", frame.ts, {"asset": row[0], "value": _num(row[1])}))
            else:
                self.counters["malformed:sentiment"] += 1
        self.counters["events"] += len(out)
        return out


# ---------------------------------------------------------------------- helpers (pure)

_NOT_JSON = object()


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def parse_socketio(packet: str) -> tuple[str, int, Any] | None:
    """Split a Socket.IO packet (the text after the Engine.IO ``4``) into type, attachments, data.

    ``2["ev",…]``, ``2/ns,["ev"]``, ``212["ev"]`` (ack id), ``51-["ev",…]``; data is None when the
    packet carries none. Returns None when the packet cannot be read.
    """
    ptype = packet[0]
    if ptype not in "0123456":
        return None
    i = 1
    n = len(packet)
    attachments = 0
    if ptype in "56":
        j = packet.find("-", 1)
        if j < 0 or not packet[1:j].isdigit():
            return None
        attachments = int(packet[1:j])
        i = j + 1
    if i < n and packet[i] == "/":
        j = packet.find(",", i)
        if j < 0:
            return (ptype, attachments, None)
        i = j + 1
    while i < n and packet[i].isdigit():
        i += 1
    if i >= n:
        return (ptype, attachments, None)
    try:
        return (ptype, attachments, _loads(packet[i:]))
    except ValueError:
        return None


def _fill_placeholders(obj: Any, attachments: list[Any]) -> Any:
    if isinstance(obj, dict):
        if obj.get("_placeholder") is True and isinstance(obj.get("num"), int):
            num = obj["num"]
            return attachments[num] if 0 <= num < len(attachments) else None
        return {k: _fill_placeholders(v, attachments) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill_placeholders(v, attachments) for v in obj]
    return obj


def _shape_of(body: Any) -> str | None:
    """Guess the event of a binary body that came without a header (protocol notes §9)."""
    if isinstance(body, list) and body:
        row = body[0]
        if isinstance(row, str) and len(body) >= 3:
            return "updateStream"
        if isinstance(row, list) and row:
            if len(row) >= 3 and isinstance(row[0], str) and _num(row[1]) is not None:
                return "updateStream"
            if len(row) == 2 and isinstance(row[0], str):
                return "chafor"
            if len(row) >= 15 and isinstance(row[0], int) and isinstance(row[1], str):
                return "updateAssets"
        return None
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


def _num(v: Any) -> float | None:
    if (type(v) is float or type(v) is int) and _isfinite(v):
        return float(v)
    return None


def _time(v: Any) -> float | None:
    t = _num(v)
    if t is None or t <= 0:
        return None
    return t / 1000.0 if t > 1e12 else t


# No chart period is longer than a year; anything bigger is a mangled frame, and would not fit
# the bus's integer fields either.
MAX_PERIOD = 366 * 86400


def _as_period(v: Any) -> int | None:
    p = _num(v)
    if p is None or p <= 0 or p > MAX_PERIOD or not float(p).is_integer():
        return None
    return int(p)


def _chart_period(v: Any) -> int | None:
    """saveCharts' ``chartPeriod``: an internal id 0-15 (protocol notes §4), else seconds if plausible."""
    p = _as_period(v) if v != 0 else 0
    if p is None:
        return None
    if p in CHART_PERIOD_IDS:
        return CHART_PERIOD_IDS[p]
    return p if p in CHART_PERIOD_SECONDS else None


def _direction(command: Any, action: Any) -> str | None:
    """``command`` 0/1 (deals) or ``action`` "call"/"put" (orders) → "call" | "put"."""
    if type(command) is int:
        return "call" if command == 0 else "put" if command == 1 else None
    if isinstance(action, str) and action.lower() in ("call", "put"):
        return action.lower()
    return None


def _deal_time(ts: Any, ms: Any, text: Any, off: float) -> float | None:
    """A deal's ``openTimestamp`` + ``openMs`` (or its ``openTime`` text) → UTC epoch seconds."""
    t = _time(ts)
    if t is None and isinstance(text, str):
        try:
            when = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        t = when.replace(tzinfo=datetime.UTC).timestamp()
    if t is None:
        return None
    if type(ms) is int and 0 <= ms < 1000 and t.is_integer():
        t += ms / 1000.0
    return round(t - off, 3)


def _consistent(o: float, h: float, lo: float, c: float) -> bool:
    return h >= o and h >= c and lo <= o and lo <= c


def _history_tick(row: Any) -> tuple[float, float] | None:
    if not isinstance(row, list) or len(row) < 2:
        return None
    t = _time(row[0])
    p = _num(row[1])
    if t is None or p is None:
        return None
    return (t, p)


def _object_candle(item: Any) -> tuple[int, float, float, float, float] | None:
    if not isinstance(item, dict):
        return None
    t = _time(item.get("time"))
    o, h, lo, c = (_num(item.get(k)) for k in ("open", "high", "low", "close"))
    if t is None or o is None or h is None or lo is None or c is None:
        return None
    return (int(t), o, h, lo, c)


def _asset_row(row: Any) -> dict[str, Any] | None:
    """One 19-field ``updateAssets`` row → the fields a trader needs (protocol notes §5)."""
    if not isinstance(row, list) or len(row) < 15:
        return None
    asset = row[1]
    if not isinstance(asset, str) or not asset:
        return None
    payout = _num(row[5])
    item: dict[str, Any] = {
        "asset": asset,
        "label": row[2] if isinstance(row[2], str) else asset,
        "type": row[3] if isinstance(row[3], str) else "",
        "payout": payout,
        "otc": bool(row[9]) if isinstance(row[9], int | bool) else asset.endswith("_otc"),
        "active": bool(row[14]),
    }
    if isinstance(row[0], int):
        item["id"] = row[0]
    if isinstance(row[4], int):
        item["digits"] = row[4]
    if len(row) > 15 and isinstance(row[15], list):
        times = [x.get("time") for x in row[15] if isinstance(x, dict) and isinstance(x.get("time"), int)]
        item["expirations"] = times
    return item
