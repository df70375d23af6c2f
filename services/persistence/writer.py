"""The chunk writer's pure core: records → CSV lines → appends to numbered chunk files.

No files and no clocks here: :func:`lines_of` turns decoded chunks into lines per series, and
:func:`plan` takes where each series stands (chunk number, rows in it) and the new lines, and says
which lines go to which chunk; the shell (``store.py``) does the
writing and the fsync. A series is one asset's ticks, or one asset's candles of one timeframe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.bus.records import Candle
from services.persistence.chunk import Chunk

# (kind, stored asset name, timeframe seconds or None): one file series on disk.
SeriesKey = tuple[str, str, int | None]

FIRST_CHUNK = 1


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


# ".000Z," … ".999Z,": the milliseconds of a tick's time, made once.
_MILLIS = tuple(f".{ms:03d}Z," for ms in range(1000))


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

    def candle(self, c: Candle) -> str:
        """``timestamp,open,high,low,close,ticks`` with the candle's open time."""
        return (
            f"{self._second(int(c.time))}Z,{_num(c.open)},{_num(c.high)},{_num(c.low)},"
            f"{_num(c.close)},{int(c.ticks)}\n"
        )


def lines_of(
    chunks: Iterable[Chunk], fmt: RowFormatter, stored_name: Callable[[str], str]
) -> tuple[dict[SeriesKey, list[str]], int, int]:
    """The CSV lines of decoded chunks, by series, in stream order; and the tick and candle rows."""
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
    return by_series, tick_rows, candle_rows


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
