"""Writing rows, the pure part: values → CSV lines → which lines go to which numbered chunk.

No files and no clocks here: :class:`RowFormatter` turns ticks and candles into lines, and
:func:`plan` takes where each series stands (chunk number, rows in it) and the new lines, and says
which lines go to which chunk. The service that owns the files does the writing and the fsync.
A series is one asset's ticks, one asset's candles of one timeframe, or one asset's payouts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from quantumflux.files.columns import CANDLE_COLUMNS, Column
from quantumflux.files.layout import FIRST_CHUNK, iso_utc

# (kind, stored asset name, timeframe seconds or None): one file series on disk.
SeriesKey = tuple[str, str, int | None]


class CandleLike(Protocol):
    """What a candle row is written from: its open time and the other columns by name."""

    @property
    def time(self) -> float: ...


class PayoutLike(Protocol):
    """What a payout row is written from: when it changed, the broker's value, tradable or not."""

    @property
    def ts(self) -> float: ...

    @property
    def payout(self) -> float: ...

    @property
    def open(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Position:
    """Where a series stands: its current chunk number and how many rows that chunk holds."""

    chunk: int
    rows: int


@dataclass(frozen=True, slots=True)
class Append:
    """Lines to append to one chunk of a series; ``rows_before`` is 0 when the chunk is new."""

    key: SeriesKey
    chunk: int
    rows_before: int
    lines: tuple[str, ...]


def _num(x: float) -> str:
    # Shortest text that reads back as the same float; whole numbers without ".0" noise is not
    # worth the ambiguity, so repr() it is.
    return repr(float(x))


def _cell(column: Column, value: float | bool | None) -> str:
    if column.kind == "price":
        return _num(value)  # type: ignore[arg-type]
    if column.kind == "flag":
        return "1" if value else "0"
    if value is None:
        return ""  # an amount nobody knows (the volume of a candle built from live ticks)
    return str(int(value))


def _as_given(value: float) -> str:
    # The broker's number as it sent it: 92 stays 92, 87.5 stays 87.5.
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ".000Z," … ".999Z,": the milliseconds of a tick's time, made once.
_MILLIS = tuple(f".{ms:03d}Z," for ms in range(1000))
# Every candle column after the time, in file order.
_CANDLE_VALUES = CANDLE_COLUMNS[1:]


class RowFormatter:
    """CSV lines for ticks and candles; remembers the text of the seconds it has seen."""

    # Seconds remembered; a day of seconds at most, then it starts afresh.
    REMEMBER = 86_400

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def _second(self, sec: int) -> str:
        text = self._seconds.get(sec)
        if text is None:
            if len(self._seconds) >= self.REMEMBER:
                self._seconds.clear()
            text = self._seconds[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return text

    def tick(self, ts: float, price: float) -> str:
        """``timestamp,price`` with the time to the millisecond (rounded half up)."""
        sec, ms = divmod(int(ts * 1000 + 0.5), 1000)
        prefix = self._seconds.get(sec) or self._second(sec)
        return prefix + _MILLIS[ms] + repr(price if type(price) is float else float(price)) + "\n"

    def candle(self, c: CandleLike) -> str:
        """``timestamp,open,high,low,close,ticks,volume,complete`` with the candle's open time."""
        cells = [_cell(col, getattr(c, col.name)) for col in _CANDLE_VALUES]
        return f"{self._second(int(c.time))}Z," + ",".join(cells) + "\n"

    @staticmethod
    def payout(p: PayoutLike) -> str:
        """``timestamp,payout,open``: the time of the change to the millisecond, the broker's value, 1/0."""
        return f"{iso_utc(p.ts, millis=True)},{_as_given(p.payout)},{1 if p.open else 0}\n"


def plan(
    positions: Mapping[SeriesKey, Position],
    by_series: Mapping[SeriesKey, Sequence[str]],
    chunk_size: Mapping[str, int],
) -> tuple[list[Append], dict[SeriesKey, Position]]:
    """Split each series' new lines over chunk files: a new chunk after ``chunk_size[kind]`` rows.

    Returns the appends, in the order of the lines within each series, and the new position of
    every series touched.
    """
    appends: list[Append] = []
    moved: dict[SeriesKey, Position] = {}
    for key, lines in by_series.items():
        if not lines:
            continue
        size = chunk_size[key[0]]
        pos = positions.get(key, Position(FIRST_CHUNK, 0))
        chunk, held, i = pos.chunk, pos.rows, 0
        while i < len(lines):
            if held >= size:
                chunk, held = chunk + 1, 0
            take = lines[i : i + size - held]
            appends.append(Append(key, chunk, held, tuple(take)))
            held += len(take)
            i += len(take)
        moved[key] = Position(chunk, held)
    return appends, moved
