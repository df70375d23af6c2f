"""The persistence service's rows: decoded stream chunks → CSV lines per file series (pure).

How a row is written and how lines are split over chunk files is :mod:`quantumflux.files.rows`; this
module only walks the service's decoded chunks, in stream order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from quantumflux.files.orders import ORDER_SERIES, order_row
from quantumflux.files.rows import RowFormatter, SeriesKey
from quantumflux.persistence.chunk import Chunk


def lines_of(
    chunks: Iterable[Chunk], fmt: RowFormatter, stored_name: Callable[[str], str]
) -> tuple[dict[SeriesKey, list[str]], int, int]:
    """The CSV lines of decoded chunks, by series, in stream order; and the tick and candle rows
    (payout and order rows are few: the caller counts them from the chunks)."""
    by_series: dict[SeriesKey, list[str]] = {}
    tick = fmt.tick
    tick_rows = candle_rows = 0
    for c in chunks:
        if c.spans:
            ts, price = c.ts.tolist(), c.price.tolist()
            for asset, start, end in c.spans:
                lines = list(map(tick, ts[start:end], price[start:end]))
                key: SeriesKey = ("ticks", stored_name(c.assets[asset]), None)
                held = by_series.get(key)
                if held is None:
                    by_series[key] = lines
                else:
                    held += lines
            tick_rows += len(ts)
        for candle in c.candles:
            key = ("candles", stored_name(candle.asset), candle.tf)
            by_series.setdefault(key, []).append(fmt.candle(candle))
        candle_rows += len(c.candles)
        for p in c.payouts:
            by_series.setdefault(("payouts", stored_name(p.asset), None), []).append(fmt.payout(p))
        if c.orders:
            by_series.setdefault(ORDER_SERIES, []).extend(map(order_row, c.orders))
    return by_series, tick_rows, candle_rows
