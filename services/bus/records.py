"""Record types of the public contract and their msgpack codec (DESIGN §2).

Every stream entry has one field ``d``: a msgpack map with readable keys and a schema version
``v``. :func:`decode` turns ``d`` back into a record or raises :class:`RecordError` with a clear
message; readers count those and go on, they never stop on a bad entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import msgpack

SCHEMA_VERSION = 1
KNOWN_VERSIONS = frozenset({1})
FIELD = b"d"

_packer = msgpack.Packer(use_bin_type=True)


class RecordError(ValueError):
    """An entry that is not a valid record; ``kind`` says why, for counting."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Tick:
    """One price from the broker: ``ts`` is when it was quoted, epoch seconds UTC."""

    asset: str
    ts: float
    price: float

    def to_map(self) -> dict[str, Any]:
        return {"v": SCHEMA_VERSION, "kind": "tick", "asset": self.asset, "ts": self.ts, "price": self.price}


@dataclass(frozen=True, slots=True)
class HistoryBatch:
    """History the broker sent for an asset: candles ``[time, open, high, low, close]`` and ticks."""

    asset: str
    period: int
    candles: tuple[tuple[int, float, float, float, float], ...] = ()
    ticks: tuple[tuple[float, float], ...] = ()

    def to_map(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "kind": "history",
            "asset": self.asset,
            "period": self.period,
            "candles": [list(c) for c in self.candles],
            "ticks": [list(t) for t in self.ticks],
        }


@dataclass(frozen=True, slots=True)
class Candle:
    """An OHLC candle; ``time`` is its open (epoch seconds), ``closed`` is true once it is final."""

    asset: str
    tf: int
    time: int
    open: float
    high: float
    low: float
    close: float
    ticks: int
    closed: bool

    def to_map(self) -> dict[str, Any]:
        return {
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
        }


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


Record = Tick | HistoryBatch | Candle | Event

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


def _num(obj: dict[str, Any], key: str) -> float:
    val = obj.get(key)
    if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
        raise RecordError("bad_field", f"{key} must be a finite number, got {val!r}")
    return float(val)


def _int(obj: dict[str, Any], key: str) -> int:
    val = obj.get(key)
    if isinstance(val, bool) or not isinstance(val, int):
        if isinstance(val, float) and val.is_integer():
            return int(val)
        raise RecordError("bad_field", f"{key} must be a whole number, got {val!r}")
    return val


def _str(obj: dict[str, Any], key: str) -> str:
    val = obj.get(key)
    if not isinstance(val, str) or not val:
        raise RecordError("bad_field", f"{key} must be a non-empty string, got {val!r}")
    return val


def from_map(obj: dict[str, Any]) -> Record:
    """Build a record from an unpacked map; which type is decided by ``kind``/``type``/``tf``."""
    kind = obj.get("kind")
    if kind == "tick":
        return Tick(asset=_str(obj, "asset"), ts=_num(obj, "ts"), price=_num(obj, "price"))
    if kind == "history":
        candles = obj.get("candles") or []
        ticks = obj.get("ticks") or []
        if not isinstance(candles, list) or not isinstance(ticks, list):
            raise RecordError("bad_field", "history candles and ticks must be lists")
        try:
            cs = tuple((int(c[0]), float(c[1]), float(c[2]), float(c[3]), float(c[4])) for c in candles)
            ts = tuple((float(t[0]), float(t[1])) for t in ticks)
        except (TypeError, ValueError, IndexError) as exc:
            raise RecordError("bad_field", f"history rows are malformed: {exc}") from None
        return HistoryBatch(asset=_str(obj, "asset"), period=_int(obj, "period"), candles=cs, ticks=ts)
    if "type" in obj:
        data = {k: v for k, v in obj.items() if k not in ("v", "type", "ts")}
        return Event(type=_str(obj, "type"), ts=_num(obj, "ts"), data=data)
    if "tf" in obj:
        closed = obj.get("closed")
        if not isinstance(closed, bool):
            raise RecordError("bad_field", f"closed must be true or false, got {closed!r}")
        return Candle(
            asset=_str(obj, "asset"),
            tf=_int(obj, "tf"),
            time=_int(obj, "time"),
            open=_num(obj, "open"),
            high=_num(obj, "high"),
            low=_num(obj, "low"),
            close=_num(obj, "close"),
            ticks=_int(obj, "ticks"),
            closed=closed,
        )
    raise RecordError("unknown_kind", f"cannot tell what record this is: keys {sorted(map(repr, obj))}")


def decode(raw: bytes) -> Record:
    """Decode the ``d`` field of a stream entry into a record, or raise :class:`RecordError`."""
    return from_map(unpack(raw))


def decode_fields(fields: dict[bytes, bytes]) -> Record:
    """Decode a whole stream entry's field map (which must hold ``d``)."""
    raw = fields.get(FIELD)
    if raw is None:
        raise RecordError("no_d_field", f"entry has no field 'd' (fields: {sorted(fields)})")
    return decode(raw)
