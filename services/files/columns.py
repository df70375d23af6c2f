"""What a row of a file holds: the columns, their header names and the names readers accept.

This is the one place to change the format. A new column goes at the end of
:data:`CANDLE_COLUMNS`, so older readers still find theirs: the header, the writer (:mod:`.rows`)
and the reader (:mod:`.reader`) follow, and a column that is not ``required`` may be missing from a
file (older files), the reader then fills in ``default``.

``volume`` is the broker's traded volume (empty for candles built from live ticks) and
``complete`` says whether the candle saw its whole period (1) or not (0: the platform started or
lost the feed in the middle of it). Older exports used ``volume`` for the tick count; a file with
``volume`` and neither ``ticks`` nor ``complete`` is still read that way (see :func:`.cells.map_columns`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# How a column's cells are read and checked: a time, a price (finite, above 0), a count (whole,
# 0 or more), an amount (a count that may be empty: unknown) or a flag (1 or 0).
Kind = Literal["time", "price", "count", "amount", "flag"]


@dataclass(frozen=True)
class Column:
    """One column of a candle file.

    ``name`` is written in the header and is also the attribute of a candle and the column of a
    loaded frame (``time`` for the header's ``timestamp``); ``aliases`` are the header names a
    reader accepts for it, in any case.
    """

    name: str
    header: str
    kind: Kind
    aliases: tuple[str, ...]
    required: bool = True
    default: float = 0


CANDLE_COLUMNS: tuple[Column, ...] = (
    Column("time", "timestamp", "time", ("timestamp", "time", "date", "datetime", "ts", "t")),
    Column("open", "open", "price", ("open", "o")),
    Column("high", "high", "price", ("high", "h")),
    Column("low", "low", "price", ("low", "l")),
    Column("close", "close", "price", ("close", "c")),
    Column("ticks", "ticks", "count", ("ticks", "vol", "tick_volume", "v"), required=False),
    Column("volume", "volume", "amount", ("volume",), required=False, default=math.nan),
    Column("complete", "complete", "flag", ("complete",), required=False, default=1),
)
CANDLE_FIELDS = tuple(c.name for c in CANDLE_COLUMNS)
PRICE_FIELDS = tuple(c.name for c in CANDLE_COLUMNS if c.kind == "price")
CANDLE_HEADER = [c.header for c in CANDLE_COLUMNS]
TICK_HEADER = ["timestamp", "price"]
# The broker's payout for an asset from ``timestamp`` on (as it gives it: 92 is 92 %), and whether
# the asset could be traded then (1/0).
PAYOUT_HEADER = ["timestamp", "payout", "open"]
_HEADERS = {"candles": CANDLE_HEADER, "ticks": TICK_HEADER, "payouts": PAYOUT_HEADER}


def header_line(kind: str) -> str:
    """The first line of a new file of ``kind`` (``candles``, ``ticks`` or ``payouts``), with its newline."""
    return ",".join(_HEADERS[kind]) + "\n"
