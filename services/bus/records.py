"""Record types of the public contract and their msgpack codec (DESIGN §2).

Every stream entry has one field ``d``: a msgpack map with readable keys and a schema version
``v``. :func:`decode` turns ``d`` back into a record or raises :class:`RecordError` with a clear
message; readers count those and go on, they never stop on a bad entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from quantumflux.bus import fields as f
from quantumflux.bus.fields import KNOWN_VERSIONS, SCHEMA_VERSION, RecordError
from quantumflux.bus.trading import (
    PAPER_KINDS,
    Order,
    PaperContract,
    Payout,
    Signal,
    order_from_map,
    paper_from_map,
    payout_from_map,
    signal_from_map,
)

__all__ = [
    "CAPTURE_STATES",
    "FIELD",
    "KNOWN_VERSIONS",
    "SCHEMA_VERSION",
    "Candle",
    "CaptureMark",
    "Event",
    "HistoryBatch",
    "Order",
    "PaperContract",
    "Payout",
    "Record",
    "RecordError",
    "Signal",
    "Tick",
    "TickRow",
    "TickRun",
    "decode",
    "decode_fields",
    "from_map",
    "pack",
    "pack_map",
    "tick_runs",
    "unpack",
]

FIELD = b"d"

_packer = msgpack.Packer(use_bin_type=True)


@dataclass(frozen=True, slots=True)
class Tick:
    """One price from the broker: ``ts`` is when it was quoted, epoch seconds UTC."""

    asset: str
    ts: float
    price: float

    def to_map(self) -> dict[str, Any]:
        return {"v": SCHEMA_VERSION, "kind": "tick", "asset": self.asset, "ts": self.ts, "price": self.price}


# A broker candle: (time, open, high, low, close), plus the broker's tick count when it gave one.
HistoryCandle = tuple[int, float, float, float, float] | tuple[int, float, float, float, float, int]

# What a capture marker says: capture (re)started at ``ts``, or it was still running at ``ts``.
CAPTURE_STATES = ("start", "alive")


@dataclass(frozen=True, slots=True)
class HistoryBatch:
    """History the broker sent for an asset: candles ``[time, open, high, low, close(, volume)]``
    and ticks; ``volume`` is the broker's own count of ticks in the candle, when it sent one.

    ``index`` is the paged request's id the broker echoed, so whoever asked can tell its own
    answer from the page's (absent from the wire when the broker named none)."""

    asset: str
    period: int
    candles: tuple[HistoryCandle, ...] = ()
    ticks: tuple[tuple[float, float], ...] = ()
    index: int | str | None = None

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "kind": "history",
            "asset": self.asset,
            "period": self.period,
            "candles": [list(c) for c in self.candles],
            "ticks": [list(t) for t in self.ticks],
        }
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass(frozen=True, slots=True)
class CaptureMark:
    """In-band news on every tick stream that capture (re)started or is still running.

    A candle can only be trusted to hold every tick of its interval if capture ran for all of
    it; these marks let the candle service tell, in the order of the ticks themselves.
    """

    state: str
    ts: float

    def to_map(self) -> dict[str, Any]:
        return {"v": SCHEMA_VERSION, "kind": "capture", "state": self.state, "ts": self.ts}


@dataclass(frozen=True, slots=True)
class Candle:
    """An OHLC candle; ``time`` is its open (epoch seconds), ``closed`` is true once it is final.

    ``complete`` is true when the candle saw its whole interval (capture ran throughout, or the
    broker sent it whole); for a forming candle, that it has seen all of it so far. ``ticks`` is
    what we counted; ``volume`` the broker's own count, for broker candles only.
    """

    asset: str
    tf: int
    time: int
    open: float
    high: float
    low: float
    close: float
    ticks: int
    closed: bool
    complete: bool = True
    volume: int | None = None

    def to_map(self) -> dict[str, Any]:
        out = {
            "v": SCHEMA_VERSION,
            "asset": self.asset,
            "tf": self.tf,
            "time": self.time,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "ticks": self.ticks,
            "closed": self.closed,
            "complete": self.complete,
        }
        if self.volume is not None:
            out["volume"] = self.volume
        return out


@dataclass(frozen=True, slots=True)
class Event:
    """A status or platform event on ``qf:events``: ``type``, ``ts`` and free fields in ``data``."""

    type: str
    ts: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_map(self) -> dict[str, Any]:
        out = dict(self.data)
        out.update({"v": SCHEMA_VERSION, "type": self.type, "ts": self.ts})
        return out


Record = Tick | HistoryBatch | CaptureMark | Candle | Event | Signal | PaperContract | Order | Payout

EVENT_TYPES = frozenset(
    {
        "chrome_status",
        "platform_state",
        "assets",
        "history_loaded",
        "service_status",
        "balance",
        "sentiment",
        "deal",
        "deals",
        "report",
    }
)


def pack(record: Record) -> bytes:
    """The msgpack bytes of a record, for the field ``d`` of a stream entry."""
    return bytes(_packer.pack(record.to_map()))


def pack_map(mapping: dict[str, Any]) -> bytes:
    """msgpack bytes of a plain map (already carrying ``v``)."""
    return bytes(_packer.pack(mapping))


def unpack(raw: bytes) -> dict[str, Any]:
    """The map inside an entry's ``d`` field, checked for a known schema version."""
    try:
        obj = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise RecordError("not_msgpack", f"field d is not msgpack: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordError("not_a_map", f"field d is a {type(obj).__name__}, not a map")
    v = obj.get("v")
    if v not in KNOWN_VERSIONS:
        raise RecordError("unknown_version", f"schema version {v!r} is not one this reader knows")
    return obj


def _tick(obj: dict[str, Any]) -> Tick:
    return Tick(asset=f.name(obj, "asset"), ts=f.num(obj, "ts"), price=f.num(obj, "price"))


def _history(obj: dict[str, Any]) -> HistoryBatch:
    candles = obj.get("candles") or []
    ticks = obj.get("ticks") or []
    if not isinstance(candles, list) or not isinstance(ticks, list):
        raise RecordError("bad_field", "history candles and ticks must be lists")
    try:
        cs = tuple(_history_candle(c) for c in candles)
        ts = tuple((float(t[0]), float(t[1])) for t in ticks)
    except (TypeError, ValueError, IndexError, OverflowError) as exc:
        raise RecordError("bad_field", f"history rows are malformed: {exc}") from None
    index = obj.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int | str)):
        raise RecordError("bad_field", f"history index must be a number or text, got {index!r}")
    return HistoryBatch(
        asset=f.name(obj, "asset"), period=f.whole(obj, "period"), candles=cs, ticks=ts, index=index
    )


def _history_candle(c: Sequence[Any]) -> HistoryCandle:
    row = (int(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4]))
    if len(c) > 5 and c[5] is not None:
        volume = c[5]
        if (
            isinstance(volume, bool)
            or not isinstance(volume, int | float)
            or volume < 0
            or volume != int(volume)
        ):
            raise ValueError(f"volume must be a whole number of ticks, got {volume!r}")
        return (*row, int(volume))
    return row


def _capture(obj: dict[str, Any]) -> CaptureMark:
    return CaptureMark(state=f.one_of(obj, "state", CAPTURE_STATES), ts=f.num(obj, "ts"))


def _event(obj: dict[str, Any]) -> Event:
    data = {k: v for k, v in obj.items() if k not in ("v", "type", "ts")}
    return Event(type=f.name(obj, "type"), ts=f.num(obj, "ts"), data=data)


def _candle(obj: dict[str, Any]) -> Candle:
    closed = obj.get("closed")
    if not isinstance(closed, bool):
        raise RecordError("bad_field", f"closed must be true or false, got {closed!r}")
    return Candle(
        asset=f.name(obj, "asset"),
        tf=f.whole(obj, "tf"),
        time=f.whole(obj, "time"),
        open=f.num(obj, "open"),
        high=f.num(obj, "high"),
        low=f.num(obj, "low"),
        close=f.num(obj, "close"),
        ticks=f.whole(obj, "ticks"),
        closed=closed,
        complete=_flag(obj, "complete", default=True),
        volume=f.maybe_whole(obj, "volume"),
    )


def _flag(obj: dict[str, Any], key: str, default: bool) -> bool:
    # A writer from before the field existed meant the default.
    val = obj.get(key, default)
    if not isinstance(val, bool):
        raise RecordError("bad_field", f"{key} must be true or false, got {val!r}")
    return val


def from_map(obj: dict[str, Any]) -> Record:
    """Build a record from an unpacked map; which type is decided by ``kind``/``type``/``tf``.

    ``type`` is looked at before the paper and order kinds so an event whose data happens to
    carry a ``kind`` stays an event, as it always was.
    """
    kind = obj.get("kind")
    if kind == "tick":
        return _tick(obj)
    if kind == "history":
        return _history(obj)
    if kind == "capture":
        return _capture(obj)
    if "type" in obj:
        return _event(obj)
    if kind in PAPER_KINDS:
        return paper_from_map(obj)
    if kind == "order":
        return order_from_map(obj)
    if kind == "payout":
        return payout_from_map(obj)
    if "tf" in obj:
        return _candle(obj)
    if "run" in obj and "direction" in obj:
        return signal_from_map(obj)
    raise RecordError("unknown_kind", f"cannot tell what record this is: keys {sorted(map(repr, obj))}")


def decode(raw: bytes) -> Record:
    """Decode the ``d`` field of a stream entry into a record, or raise :class:`RecordError`."""
    return from_map(unpack(raw))


# An undecoded tick as it came: (asset, ts, price), checked by whoever folds it.
TickRow = tuple[Any, Any, Any]


# What a tick stream holds, in order: runs of ticks, broker history and capture marks.
TickRun = list[TickRow] | HistoryBatch | CaptureMark


def tick_runs(entries: Iterable[Sequence[Any]], bad: Counter[str]) -> list[TickRun]:
    """The records of tick stream entries, in stream order, for folding into candles.

    The fast path for the tick streams' hot reader: ``entries`` are raw ``[id, [field, value,
    …]]`` replies, and consecutive ticks come back as one list of unchecked ``(asset, ts,
    price)`` rows (building a :class:`Tick` each would cost a third of the fold), with each
    history batch and capture mark between them decoded and checked. Entries that are not
    records are counted in ``bad`` by kind and skipped.
    """
    out: list[TickRun] = []
    ticks: list[TickRow] = []
    unpackb = msgpack.unpackb
    for _eid, fields in entries:
        try:
            raw = fields[1] if fields[0] == FIELD else fields[fields.index(FIELD) + 1]
            m = unpackb(raw, raw=False)
            v = m["v"]
            kind = m["kind"]
        except Exception:  # not msgpack, not a map, no d: all just bad entries
            bad["bad_entry"] += 1
            continue
        if v not in KNOWN_VERSIONS:
            bad["unknown_version"] += 1
        elif kind == "tick":
            ticks.append((m.get("asset"), m.get("ts"), m.get("price")))
        elif kind == "history" or kind == "capture":
            try:
                record = _history(m) if kind == "history" else _capture(m)
            except RecordError as exc:
                bad[exc.kind] += 1
                continue
            if ticks:
                out.append(ticks)
                ticks = []
            out.append(record)
        else:
            bad["unknown_kind"] += 1
    if ticks:
        out.append(ticks)
    return out


def decode_fields(fields: dict[bytes, bytes]) -> Record:
    """Decode a whole stream entry's field map (which must hold ``d``)."""
    raw = fields.get(FIELD)
    if raw is None:
        raise RecordError("no_d_field", f"entry has no field 'd' (fields: {sorted(fields)})")
    return decode(raw)
