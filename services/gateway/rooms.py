"""What can be streamed, and how a stream's history meets its live updates.

Pure: values in, values out. The bus reader feeds :class:`Catalog` and :class:`CandleBook` with what
it reads; the routes and the stream desk ask them to check a request and build a stream's history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from quantumflux.bus.records import Candle
from quantumflux.bus.timeframes import TimeframeError, label, parse_timeframe

RECENT_CLOSED = 64


@dataclass(frozen=True, slots=True, order=True)
class Stream:
    """One chart stream: an asset at a timeframe in seconds."""

    asset: str
    tf: int

    @property
    def room(self) -> str:
        """The Socket.IO room of this stream."""
        return f"candles:{self.asset}:{self.tf}"

    @property
    def timeframe(self) -> str:
        """The timeframe as the browser reads it (``1m``)."""
        return label(self.tf)


class StreamRequestError(ValueError):
    """A request for a stream that cannot be served; ``code`` is what ``stream_error`` carries."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def candle_payload(c: Candle) -> dict[str, Any]:
    """A candle as the browser gets it in ``candle_update`` and ``history``.

    ``complete`` false marks a candle with a gap in capture (the chart draws it apart); ``volume``
    is the broker's own tick count, sent only when the broker gave one.
    """
    out = {
        "asset": c.asset,
        "timeframe": label(c.tf),
        "time": c.time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "ticks": c.ticks,
        "closed": c.closed,
        "complete": c.complete,
    }
    if c.volume is not None:
        out["volume"] = c.volume
    return out


@dataclass(slots=True)
class Catalog:
    """Timeframes the candle service makes and assets seen on the bus."""

    produced: set[int] = field(default_factory=set)  # from heartbeats
    streams: set[int] = field(default_factory=set)  # candle streams that exist
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # from `assets` events
    seen: set[str] = field(default_factory=set)  # from candles and series keys

    @property
    def timeframes(self) -> list[int]:
        """Every timeframe that can be streamed, shortest first."""
        return sorted(self.produced | self.streams)

    def asset_names(self) -> list[str]:
        """Every asset that can be streamed, sorted."""
        return sorted(set(self.assets) | self.seen)

    def set_assets(self, items: Any) -> int:
        """Take the asset list of an ``assets`` event; returns how many entries were usable."""
        if not isinstance(items, list):
            return 0
        fresh: dict[str, dict[str, Any]] = {}
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("asset"), str) and item["asset"]:
                fresh[item["asset"]] = dict(item)
        if fresh:
            self.assets = fresh
        return len(fresh)

    def asset_list(self) -> list[dict[str, Any]]:
        """Assets for ``GET /api/assets``: the platform's entries, then any others seen, by name."""
        out = []
        for name in self.asset_names():
            entry = dict(self.assets.get(name) or {"asset": name, "label": name})
            entry["asset"] = name
            out.append(entry)
        return out

    def resolve(self, asset: Any, timeframe: Any) -> Stream:
        """The stream a browser asks for, or :class:`StreamRequestError` saying what is wrong."""
        if not isinstance(asset, str) or not asset.strip():
            raise StreamRequestError("bad_request", "Say which asset to stream, for example EURUSD_otc.")
        if timeframe is None or isinstance(timeframe, bool) or not isinstance(timeframe, str | int):
            raise StreamRequestError("bad_request", "Say which timeframe to stream, for example 1m.")
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError:
            raise StreamRequestError(
                "bad_timeframe", f"{timeframe!r} is not a timeframe. Use 5s, 1m, 15m, 1h, 4h, 1d or seconds."
            ) from None
        asset = asset.strip()
        if tf not in self.timeframes:
            made = ", ".join(label(t) for t in self.timeframes) or "none yet"
            raise StreamRequestError(
                "unknown_timeframe", f"No candles are made at {label(tf)}. Available: {made}."
            )
        if asset not in self.seen and asset not in self.assets:
            raise StreamRequestError("unknown_asset", f"No data has been seen for {asset} yet.")
        return Stream(asset, tf)


@dataclass(slots=True)
class Snapshot:
    """What the relay knew of a stream when a browser joined it."""

    recent: list[Candle]
    forming: Candle | None


class CandleBook:
    """The latest forming candle and the last few closed ones of every stream the relay has seen."""

    def __init__(self, recent: int = RECENT_CLOSED) -> None:
        self._forming: dict[tuple[str, int], Candle] = {}
        self._closed: dict[tuple[str, int], deque[Candle]] = {}
        self._recent = recent

    def observe(self, c: Candle) -> None:
        """Remember a candle update read from the bus."""
        key = (c.asset, c.tf)
        if c.closed:
            q = self._closed.setdefault(key, deque(maxlen=self._recent))
            if not q or c.time > q[-1].time:
                q.append(c)
            f = self._forming.get(key)
            if f is not None and f.time <= c.time:
                del self._forming[key]
        else:
            last = self._closed.get(key)
            if last and c.time <= last[-1].time:
                return  # an update for a candle already closed is stale
            self._forming[key] = c

    def snapshot(self, stream: Stream) -> Snapshot:
        """The recent closed candles and the forming one of a stream, right now."""
        key = (stream.asset, stream.tf)
        return Snapshot(list(self._closed.get(key, ())), self._forming.get(key))


def merge_history(stored: list[Candle], snap: Snapshot, limit: int) -> tuple[list[Candle], int]:
    """History of a stream: stored closed candles, the relay's recent ones, then the forming one.

    Returns the candles (oldest first, at most ``limit`` closed plus the forming one) and the
    open time of the last closed candle in it (-1 if none): live updates at or before that time
    are already in the history and must not be sent again.
    """
    by_time: dict[int, Candle] = {c.time: c for c in stored if c.closed}
    for c in snap.recent:
        by_time[c.time] = c
    closed = [by_time[t] for t in sorted(by_time)][-limit:]
    last_closed = closed[-1].time if closed else -1
    out = list(closed)
    if snap.forming is not None and snap.forming.time > last_closed:
        out.append(snap.forming)
    return out, last_closed


def follows_history(c: Candle, last_closed: int) -> bool:
    """True when a live update that arrived during the history read still has to be sent."""
    return c.time > last_closed
