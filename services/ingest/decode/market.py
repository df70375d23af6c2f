"""Market data: live ticks, history (pushed and paged) and the broker's clock (pure).

Times in the broker's frames run ahead of UTC (about +7200 s); everything published here is UTC.
The offset is measured per socket from its first tick, rounded to half hours.
"""

from __future__ import annotations

import math
from typing import Any

from quantumflux.bus.records import Event, HistoryBatch, HistoryCandle, Tick
from quantumflux.ingest.decode import values
from quantumflux.ingest.decode.state import DecoderState, Output, SocketState
from quantumflux.ingest.decode.values import BAD_OHLC, MAX_OFFSET, as_period, latest_time, market_time, price
from quantumflux.ingest.frames import Frame

OFFSET_STEP = 1800.0
# Used only before any socket has shown a tick (protocol notes §2: +7200 s in every capture).
ASSUMED_OFFSET = 7200.0
# Requests remembered per socket, waiting for the paged history that answers them.
MAX_REQUESTS = 1000

CandleRow = HistoryCandle
TickRow = tuple[float, float]

_isfinite = math.isfinite


# ---------------------------------------------------------------------- the clock


def measure_offset(dec: DecoderState, st: SocketState, broker_ts: float, wall_ts: float) -> float:
    """The socket's offset, measured from this tick when it has none yet."""
    off = st.offset
    if off is not None:
        return off
    if dec.broker_utc_offset is not None:
        off = float(dec.broker_utc_offset)
    else:
        gap = broker_ts - wall_ts
        if not (_isfinite(gap) and abs(gap) <= MAX_OFFSET):
            # A capture time or tick time far off (clock not set, a bad frame): do not let it
            # shift this socket for good; measure again on the next tick.
            dec.counters["offset_implausible"] += 1
            return dec.last_offset if dec.last_offset is not None else ASSUMED_OFFSET
        off = round(gap / OFFSET_STEP) * OFFSET_STEP
        dec.counters["offset_measured"] += 1
    st.offset = off
    dec.last_offset = off
    return off


def offset_without_tick(dec: DecoderState, st: SocketState) -> float:
    # History with no tick to measure from: the last offset seen on any socket, else the usual one.
    if st.offset is not None:
        return st.offset
    if dec.last_offset is not None:
        return dec.last_offset
    dec.counters["offset_assumed"] += 1
    return ASSUMED_OFFSET


# ---------------------------------------------------------------------- live ticks


def on_ticks(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``updateStream``: ``[[asset, t, price], …]`` or the flat ``[asset, t, price]``."""
    if type(body) is not list or not body:
        dec.counters["malformed:tick"] += 1
        return []
    if type(body[0]) is str:
        body = [body]
    latest = latest_time(frame.ts)
    out: list[Output] = []
    off = st.offset
    for row in dec.keep(_tick_row(row, latest) for row in body):
        asset, t, p = row
        if off is None:
            off = measure_offset(dec, st, t, frame.ts)
        out.append(Tick(asset, t - off, p))
    dec.counters["ticks"] += len(out)
    return out


def _tick_row(row: Any, latest: float) -> tuple[str, float, float] | str:
    if type(row) is not list or len(row) < 3 or type(row[0]) is not str or not row[0]:
        return "malformed:tick"
    t = market_time(row[1], latest)
    p = price(row[2])
    if t == "malformed" or p == "malformed":
        return "malformed:tick"
    if isinstance(t, str):
        return t
    if isinstance(p, str):
        return p
    return (row[0], t, p)


# ---------------------------------------------------------------------- history


def on_history(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``updateHistoryNewFast`` / ``updateHistoryNew``: ticks ``[t, p]`` and array candles."""
    if not isinstance(body, dict):
        dec.counters["malformed:history"] += 1
        return []
    found = _history_of(dec, st, body, by_index=False)
    if found is None:
        return []
    raw_ticks = body.get("history") or []
    raw_candles = body.get("candles") or []
    if not isinstance(raw_ticks, list) or not isinstance(raw_candles, list):
        dec.counters["malformed:history"] += 1
        return []
    latest = latest_time(frame.ts)
    ticks = dec.keep(_history_tick(row, latest) for row in raw_ticks)
    if st.offset is None and ticks and dec.broker_utc_offset is None:
        # The newest history tick is as fresh as a live one: measure the clock from it.
        measure_offset(dec, st, max(t for t, _ in ticks), frame.ts)
    off = offset_without_tick(dec, st)
    candles: list[CandleRow] = dec.keep(_array_candle(dec, row, latest) for row in raw_candles)
    return _batch(dec, frame, *found, candles, ticks, off)


def on_paged_history(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``loadHistoryPeriod(Fast)``: ``{asset, index, data: [{time, open, …} | {time, price}]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        dec.counters["malformed:history"] += 1
        return []
    found = _history_of(dec, st, body, by_index=True)
    if found is None:
        return []
    off = offset_without_tick(dec, st)
    latest = latest_time(frame.ts)
    # Pages mix ticks ({time, price}) with candle objects.
    tick_rows = []
    candle_items = []
    for item in body["data"]:
        if isinstance(item, dict) and "price" in item and "open" not in item:
            tick_rows.append([item.get("time"), item.get("price")])
        else:
            candle_items.append(item)
    ticks = dec.keep(_history_tick(row, latest) for row in tick_rows)
    candles: list[CandleRow] = dec.keep(_object_candle(item, latest) for item in candle_items)
    index = body.get("index")
    # The echoed index lets whoever asked pick out its own answer among the page's.
    index = index if isinstance(index, int | str) and not isinstance(index, bool) else None
    return _batch(dec, frame, *found, candles, ticks, off, index)


def on_history_request(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """A page's ``loadHistoryPeriod`` request: its answer may name only the request's index."""
    if isinstance(body, dict):
        index = body.get("index")
        period = as_period(body.get("period"))
        if isinstance(index, int | str) and period is not None:
            if len(st.periods_by_index) > MAX_REQUESTS:
                st.periods_by_index.clear()
            st.periods_by_index[index] = period
    dec.counters["history_requests"] += 1
    return []


def _history_of(
    dec: DecoderState, st: SocketState, body: dict[str, Any], by_index: bool
) -> tuple[str, int] | None:
    """The asset and period a history answer is for (counted as malformed when missing)."""
    asset = body.get("asset")
    if not isinstance(asset, str) or not asset:
        dec.counters["malformed:history"] += 1
        return None
    period = as_period(body.get("period"))
    if period is None and by_index:
        # A paged answer may name only the request it answers.
        index = body.get("index")
        if isinstance(index, int | str):
            period = st.periods_by_index.pop(index, None)
    if period is None:
        period = st.period
    if period is None:
        dec.counters["malformed:history_no_period"] += 1
        return None
    return asset, period


def _batch(
    dec: DecoderState,
    frame: Frame,
    asset: str,
    period: int,
    candles: list[CandleRow],
    ticks: list[TickRow],
    off: float,
    index: int | str | None = None,
) -> list[Output]:
    ioff = int(off)
    utc_candles = sorted((_shifted(c, ioff) for c in candles), key=_first)
    utc_ticks = sorted(((t - off, p) for t, p in ticks), key=_first)
    dec.counters["history"] += 1
    batch = HistoryBatch(asset, period, tuple(utc_candles), tuple(utc_ticks), index)
    loaded = Event(
        "history_loaded",
        frame.ts,
        {"asset": asset, "period": period, "candles": len(utc_candles), "ticks": len(utc_ticks)},
    )
    dec.counters["events"] += 1
    return [batch, loaded]


def _shifted(c: HistoryCandle, off: int) -> HistoryCandle:
    if len(c) == 6:
        return (c[0] - off, c[1], c[2], c[3], c[4], c[5])
    return (c[0] - off, c[1], c[2], c[3], c[4])


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _history_tick(row: Any, latest: float) -> TickRow | str:
    if not isinstance(row, list) or len(row) < 2:
        return "malformed:history_tick"
    t = market_time(row[0], latest)
    p = price(row[1])
    if t == "malformed" or p == "malformed":
        return "malformed:history_tick"
    if isinstance(t, str):
        return t
    if isinstance(p, str):
        return p
    return (t, p)


def _array_candle(dec: DecoderState, row: Any, latest: float) -> CandleRow | str:
    """``[t, open, close, high, low(, volume)]`` → ``(t, open, high, low, close(, volume))``."""
    if not isinstance(row, list) or len(row) < 5:
        return "malformed:candle"
    read = _candle_values(row[0], row[1], row[2], row[3], row[4], latest)
    if isinstance(read, str):
        return read
    t, o, c, h, lo = read
    if _consistent(o, h, lo, c):
        ohlc = (t, o, h, lo, c)
    elif _consistent(o, c, h, lo):
        # Some clients see [t, o, h, l, c]; take it only when the broker's order cannot be right.
        dec.counters["candle_layout_ohlc"] += 1
        ohlc = (t, o, c, h, lo)
    else:
        return BAD_OHLC
    return _with_volume(ohlc, row[5] if len(row) > 5 else None)


def _with_volume(ohlc: tuple[int, float, float, float, float], volume: Any) -> CandleRow:
    # The broker's own tick count, kept as it sent it when it is a count at all.
    if type(volume) is int and volume >= 0:
        return (*ohlc, volume)
    return ohlc


def _object_candle(item: Any, latest: float) -> CandleRow | str:
    """``{time, open, close, high, low(, volume)}`` → ``(t, open, high, low, close(, volume))``."""
    if not isinstance(item, dict):
        return "malformed:candle"
    read = _candle_values(
        item.get("time"), item.get("open"), item.get("close"), item.get("high"), item.get("low"), latest
    )
    if isinstance(read, str):
        return read
    t, o, c, h, lo = read
    if not _consistent(o, h, lo, c):
        return BAD_OHLC
    return _with_volume((t, o, h, lo, c), item.get("volume"))


def _candle_values(
    t: Any, o: Any, c: Any, h: Any, lo: Any, latest: float
) -> tuple[int, float, float, float, float] | str:
    """A candle's time and prices in the order given, or why they are not a candle."""
    when = market_time(t, latest)
    prices = [price(v) for v in (o, c, h, lo)]
    if when == "malformed" or "malformed" in prices:
        return "malformed:candle"
    if isinstance(when, str):
        return when
    if values.BAD_PRICE in prices:
        return values.BAD_PRICE
    po, pc, ph, pl = (float(p) for p in prices)
    return (int(when), po, pc, ph, pl)


def _consistent(o: float, h: float, lo: float, c: float) -> bool:
    return h >= o and h >= c and lo <= o and lo <= c
