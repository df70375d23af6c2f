"""The persistence service's decoding core: one stream's entries, as Redis returns them → rows.

Pure: values in, values out. Nearly all the traffic is ticks, and every tick the bus packs ends in
the same 27 bytes apart from its two floats (``"ts": float64, "price": float64``), while what comes
before (version, kind, asset) repeats for every tick of an asset. So each distinct beginning is
checked once with the bus's own decoder, and the floats of all the ticks are read at once with
numpy. Anything else (a candle, history, an odd or broken entry) goes through the bus's decoder on
its own, with the same result it would have had alone: the fast path only saves work.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np

from quantumflux.bus.records import (
    Candle,
    CaptureMark,
    HistoryBatch,
    Order,
    Payout,
    RecordError,
    Tick,
    decode,
)
from quantumflux.files.layout import TF_SECONDS

# How a packed tick ends: key "ts", float64 marker, 8 bytes, key "price", float64 marker, 8 bytes.
_TAIL_TEMPLATE = b"\xa2ts\xcb" + bytes(8) + b"\xa5price\xcb" + bytes(8)
TAIL = len(_TAIL_TEMPLATE)
_TS = slice(4, 12)
_PRICE = slice(19, 27)
_FIXED = np.array([i for i in range(TAIL) if not (4 <= i < 12 or 19 <= i < 27)])
_FIXED_BYTES = np.frombuffer(_TAIL_TEMPLATE, dtype=np.uint8)[_FIXED]
_SPAN = np.arange(TAIL)
# A cap on remembered beginnings, so a stream of made-up assets cannot grow memory for ever.
MAX_HEADS = 10_000

_first = itemgetter(0)
_second = itemgetter(1)
_head = itemgetter(slice(None, -TAIL))


@dataclass(slots=True)
class Chunk:
    """The rows one stream's entries give, ready to format.

    ``spans`` cut ``ts``/``price`` into the ticks of each asset (an index into ``assets``, then
    start and end), in stream order within an asset. ``candles`` are the closed candles,
    ``payouts`` the payout changes and ``orders`` the order changes, in order.
    """

    stream: str
    last_id: str
    entries: int
    assets: list[str] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    ts: np.ndarray = field(default_factory=lambda: np.empty(0))
    price: np.ndarray = field(default_factory=lambda: np.empty(0))
    candles: list[Candle] = field(default_factory=list)
    payouts: list[Payout] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    history: int = 0

    @property
    def tick_rows(self) -> int:
        """How many tick rows this chunk gives."""
        return len(self.ts)


def _payloads(rows: list[Any], errors: Counter[str]) -> tuple[list[bytes], set[int]]:
    """The ``d`` field of every entry (empty when it has none), and which entries had none."""
    fields = list(map(_second, rows))
    flat = list(chain.from_iterable(fields))
    if len(flat) == 2 * len(fields) and flat[0::2].count(b"d") == len(fields):
        return flat[1::2], set()  # the usual case: every entry is exactly [b"d", payload]
    out: list[bytes] = []
    missing: set[int] = set()
    for i, f in enumerate(fields):
        d = None
        if f and len(f) == 2 and f[0] == b"d":
            d = f[1]
        elif not f:
            errors["entry_gone"] += 1  # trimmed or deleted after it was listed
        else:
            d = dict(zip(f[::2], f[1::2], strict=False)).get(b"d")
            if d is None:
                errors["no_d_field"] += 1
        if not isinstance(d, bytes):
            missing.add(i)
            d = b""
        out.append(d)
    return out, missing


def _tails(payloads: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which entries end like a packed tick, and the two floats read from every entry's end."""
    n = len(payloads)
    sizes = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    # The last TAIL bytes of every entry, gathered from all payloads laid end to end.
    joined = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    starts = np.maximum(np.cumsum(sizes) - TAIL, 0)
    block = joined[starts[:, None] + _SPAN] if len(joined) >= TAIL else np.zeros((n, TAIL), np.uint8)
    fast = (block[:, _FIXED] == _FIXED_BYTES).all(axis=1)
    fast &= sizes > TAIL
    ts = block[:, _TS].copy().view(">f8").ravel().astype(np.float64)
    price = block[:, _PRICE].copy().view(">f8").ravel().astype(np.float64)
    fast &= np.isfinite(ts) & np.isfinite(price)
    return fast, ts, price


class _AssetIds:
    """Numbers for the assets of one chunk, in the order they are first seen."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def of(self, asset: str) -> int:
        i = self._index.get(asset)
        if i is None:
            i = self._index[asset] = len(self.names)
            self.names.append(asset)
        return i


def _by_asset(chunk: Chunk, aid: np.ndarray, ts: np.ndarray, price: np.ndarray) -> None:
    """Put the ticks read (``aid`` >= 0) into ``chunk``, grouped by asset, in stream order within one."""
    keep = np.flatnonzero(aid >= 0)
    if not len(keep):
        return
    order = keep[np.argsort(aid[keep], kind="stable")]
    ids = aid[order]
    cuts = (np.flatnonzero(np.diff(ids)) + 1).tolist()
    firsts, ends = [0, *cuts], [*cuts, len(ids)]
    chunk.spans = [(int(ids[s]), s, e) for s, e in zip(firsts, ends, strict=True)]
    chunk.ts, chunk.price = ts[order], price[order]


class ChunkDecoder:
    """Turns raw stream entries into :class:`Chunk` values; remembers which tick beginnings are sound."""

    def __init__(
        self, ticks: bool = True, candles: bool = True, payouts: bool = True, orders: bool = True
    ) -> None:
        self.ticks = ticks
        self.candles = candles
        self.payouts = payouts
        self.orders = orders
        self._heads: dict[bytes, str | None] = {}

    def decode(self, stream: str, rows: list[Any]) -> Chunk:
        """One stream's entries (``[[id, [b"d", payload]], …]``) → the rows they give."""
        n = len(rows)
        last = rows[-1][0] if n else b"0-0"
        chunk = Chunk(stream, last.decode() if isinstance(last, bytes) else str(last), n)
        if not n:
            return chunk
        payloads, missing = _payloads(rows, chunk.errors)
        fast, ts, price = _tails(payloads)
        if not self.ticks:
            fast[:] = False  # nothing is skipped unread: whatever it is, the full decoder says
        assets = _AssetIds()
        aid = self._fast_assets(payloads, fast, assets)
        for i in np.flatnonzero(aid < 0).tolist():
            if i in missing:
                continue
            rec = self._slow(payloads[i], chunk)
            if rec is not None:
                aid[i] = assets.of(rec.asset)
                ts[i], price[i] = rec.ts, rec.price
        _by_asset(chunk, aid, ts, price)
        chunk.assets = assets.names
        return chunk

    def _fast_assets(self, payloads: list[bytes], fast: np.ndarray, assets: _AssetIds) -> np.ndarray:
        """The asset id of every entry read on the fast path (-1 for the others).

        Each distinct beginning is checked once with the bus's decoder, then every entry that
        begins the same way reads the same.
        """
        n = len(payloads)
        if not fast.any():
            return np.full(n, -1, dtype=np.int64)
        heads = list(map(_head, payloads))
        everyone = bool(fast.all())
        candidates: list[int] = [] if everyone else np.flatnonzero(fast).tolist()
        local: dict[bytes, int] = {}
        for h in set(heads) if everyone else set(map(heads.__getitem__, candidates)):
            asset = self._heads.get(h, "")
            if asset == "":
                # The example must end like a tick too: then every such entry reads the same.
                example = heads.index(h) if everyone else next(i for i in candidates if heads[i] == h)
                asset = self._learn(h, payloads[example])
            local[h] = -1 if asset is None else assets.of(asset)
        aid = np.fromiter(map(local.get, heads, repeat(-1)), dtype=np.int64, count=n)
        aid[~fast] = -1
        return aid

    def _learn(self, head: bytes, example: bytes) -> str | None:
        """The asset of ticks that begin with ``head``, or None if they must take the slow path."""
        if len(self._heads) >= MAX_HEADS:
            self._heads.clear()
        asset: str | None = None
        try:
            rec = decode(example)
        except RecordError:
            rec = None
        if isinstance(rec, Tick):
            asset = rec.asset
        self._heads[head] = asset
        return asset

    def _slow(self, raw: bytes, chunk: Chunk) -> Tick | None:
        """Decode one entry with the bus's decoder; a tick to write is returned, a candle kept."""
        try:
            rec = decode(raw)
        except RecordError as exc:
            chunk.errors[exc.kind] += 1
            return None
        if isinstance(rec, Tick):
            return rec if self.ticks else None
        if isinstance(rec, Candle):
            if rec.tf not in TF_SECONDS:
                chunk.errors["timeframe_not_in_layout"] += 1
            elif not rec.closed:
                chunk.errors["not_closed"] += 1
            elif self.candles:
                chunk.candles.append(rec)
        elif isinstance(rec, HistoryBatch):
            chunk.history += 1  # reaches disk as candles, via the candle service
        elif isinstance(rec, Payout):
            if self.payouts:
                chunk.payouts.append(rec)
        elif isinstance(rec, Order):
            if self.orders:
                chunk.orders.append(rec)
        elif isinstance(rec, CaptureMark):
            pass  # the capture's coverage is the candle service's business; no file keeps it
        else:
            chunk.errors["unexpected_record"] += 1
        return None
