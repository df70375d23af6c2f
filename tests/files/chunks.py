"""Chunk files written the way the persistence service writes them: its row formatter and its
plan of which lines go to which chunk (only the fsync bookkeeping is left out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from quantumflux.files.columns import header_line
from quantumflux.files.layout import safe_name, stored_file
from quantumflux.files.rows import Position, RowFormatter, SeriesKey, plan

SESSION = "20260614T100000Z"


@dataclass(frozen=True)
class Candle:
    time: float
    open: float
    high: float
    low: float
    close: float
    ticks: int = 3
    volume: float | None = None
    complete: bool = True


class Writer:
    """Appends rows to chunk files of one data folder, keeping where each series stands."""

    def __init__(
        self, data: Path, session: str = SESSION, candle_chunk: int = 100, tick_chunk: int = 1000
    ) -> None:
        self.data = data
        self.session = session
        self.fmt = RowFormatter()
        self.sizes = {"candles": candle_chunk, "ticks": tick_chunk, "payouts": 1000}
        self.positions: dict[SeriesKey, Position] = {}

    def candles(self, asset: str, tf: int, candles: Sequence[Candle]) -> None:
        self._write({("candles", safe_name(asset), tf): [self.fmt.candle(c) for c in candles]})

    def ticks(self, asset: str, ts: Sequence[float], prices: Sequence[float]) -> None:
        lines = [self.fmt.tick(t, p) for t, p in zip(ts, prices, strict=True)]
        self._write({("ticks", safe_name(asset), None): lines})

    def _write(self, by_series: dict[SeriesKey, list[str]]) -> None:
        appends, moved = plan(self.positions, by_series, self.sizes)
        for a in appends:
            kind, stored, tf = a.key
            path = stored_file(self.data, kind, stored, tf, self.session, a.chunk)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8", newline="") as fh:
                if a.rows_before == 0:
                    fh.write(header_line(kind))
                fh.write("".join(a.lines))
        self.positions.update(moved)


def walk(n: int, start: float, step: int, seed: int = 1) -> list[Candle]:
    """``n`` candles ``step`` seconds apart from ``start``, prices on a small random walk."""
    import numpy as np

    rng = np.random.default_rng(seed)
    close = 1.1 + np.cumsum(rng.integers(-3, 4, n)) * 1e-5
    out = []
    for i in range(n):
        c = round(float(close[i]), 5)
        o = round(c - 1e-5 * int(rng.integers(-2, 3)), 5)
        out.append(
            Candle(start + step * i, o, max(o, c) + 1e-5, min(o, c) - 1e-5, c, int(rng.integers(1, 9)))
        )
    return out
