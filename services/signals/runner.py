"""Rolling windows of closed candles and the strategy's decision for the newest one (pure).

Why live equals backtest: the backtest runs a strategy's signals function once over a dataset, and
its decision at candle ``i`` depends only on candles ``0..i``. A window here holds every closed
candle of an asset and timeframe since the first one this service saw, so running the *same*
function on the window and taking its last value is the backtest's decision at that index, bit
for bit, as long as the backtest's dataset starts at the same candle (the persisted CSV files of
the same session do). Recursive indicators (EMA, RSI, MACD) remember their start, so the window is
not cut to the strategy's bare lookback: only once it holds more than ``cap`` candles is the oldest
dropped, and ``cap`` is never below every configured strategy's :meth:`Strategy.lookback` (which
is long enough for an EMA to forget its start to within 1e-12 of the price).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from quantumflux.backtest.strategies import Strategy

# time, open, high, low, close, ticks
Row = tuple[int, float, float, float, float, int]
COLUMNS = ("time", "open", "high", "low", "close", "ticks")

ADDED = "added"
GAP = "gap"  # added, but one or more candles are missing right before it
LATE = "late"  # not newer than the newest candle: ignored


class Window:
    """The closed candles of one asset at one timeframe, oldest first, at most ``cap`` of them.

    Kept in one float64 array with room for ``cap`` plus a quarter more rows, so appending is a row
    write (the rows move back to the start once every ``cap / 4`` appends) and the frame is built
    from slices, without Python objects per candle (5 000 candles take 300 KB).
    """

    def __init__(self, tf: int, cap: int, rows: Iterable[Row] = ()) -> None:
        self.tf = tf
        self._cap = cap
        self._buf = np.empty((_room(cap), 6), dtype=np.float64)
        self._start = 0
        self._end = 0
        for row in rows:
            self._push(row)

    @property
    def cap(self) -> int:
        """Most candles kept."""
        return self._cap

    def resize(self, cap: int) -> None:
        """Keep at most ``cap`` candles from now on (the newest ones when shrinking)."""
        keep = self.rows[-cap:]
        self._cap = cap
        self._buf = np.empty((_room(cap), 6), dtype=np.float64)
        self._start = self._end = 0
        for row in keep:
            self._push(row)

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def rows(self) -> list[Row]:
        """The candles as tuples, oldest first."""
        return [
            (int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), int(r[5]))
            for r in self._buf[self._start : self._end].tolist()
        ]

    @property
    def last_time(self) -> int | None:
        """Open time of the newest candle, or None when empty."""
        return int(self._buf[self._end - 1, 0]) if self._end > self._start else None

    def _push(self, row: Row) -> None:
        if self._end == len(self._buf):
            keep = self._cap - 1
            self._buf[:keep] = self._buf[self._end - keep : self._end]
            self._start, self._end = 0, keep
        self._buf[self._end] = row
        self._end += 1
        if self._end - self._start > self._cap:
            self._start = self._end - self._cap

    def add(self, row: Row) -> str:
        """Append a closed candle: :data:`ADDED`, :data:`GAP` (a hole before it) or :data:`LATE`."""
        last = self.last_time
        if last is not None and row[0] <= last:
            return LATE
        self._push(row)
        if last is not None and row[0] != last + self.tf:
            return GAP
        return ADDED

    def frame(self) -> pd.DataFrame:
        """The candles as the backtest loader gives them (same columns and dtypes)."""
        return _frame(self._buf[self._start : self._end])


def _room(cap: int) -> int:
    return cap + max(16, cap // 4)


def _frame(arr: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": arr[:, 0].astype(np.int64),
            "open": arr[:, 1].copy(),
            "high": arr[:, 2].copy(),
            "low": arr[:, 3].copy(),
            "close": arr[:, 4].copy(),
            "ticks": arr[:, 5].astype(np.int64),
        }
    )


def frame_of(rows: Iterable[Row]) -> pd.DataFrame:
    """A candle frame (``time, open, high, low, close, ticks``) from rows."""
    return _frame(np.array(list(rows), dtype=np.float64).reshape(-1, 6))


def decide(strategy: Strategy, params: dict[str, object], candles: pd.DataFrame) -> tuple[int, float]:
    """The strategy's direction (+1, −1, 0) and confidence at the newest candle of ``candles``."""
    if len(candles) == 0:
        return 0, 0.0
    sig = strategy.signals(candles, **params)
    return int(sig.direction[-1]), float(sig.confidence[-1])


def needed_cap(configured: int, lookbacks: Iterable[int]) -> int:
    """Candles to keep: the configured window, but never fewer than a strategy needs."""
    return max([configured, *lookbacks])
