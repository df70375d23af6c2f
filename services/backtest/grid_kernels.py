"""Grid points that share work (pure): each distinct indicator is computed once per dataset.

A grid of ``sma_cross`` over (fast, slow) needs SMA(n) for every n on either axis, not one pair
of SMAs per point: 10 × 10 points need 20 SMAs, not 200. A :class:`Kernel` names the indicator
series a parameter set needs (``indicators``), computes one (``compute``), and turns the
precomputed series of a point into the strategy's signals (``turns``, the candles with a
direction) with the very same arithmetic as the strategy itself, so a point's signals are
identical to ``strategy.signals``.

Strategies without a kernel (and user strategies) run their own signals function per point.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import indicators as ind
from .strategies.base import TIE, Signals, Strategy

Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class Turns:
    """A point's signals written sparsely: the candles that have a direction, in order, and that
    direction (int8, +1 call, −1 put). Each has confidence 1; every other candle has none.

    Most candles of a grid point have no signal, so the engine's rules run on these alone.
    """

    index: np.ndarray
    direction: np.ndarray

    def signals(self, size: int) -> Signals:
        """The same signals with a direction and a confidence for each of ``size`` candles."""
        direction = np.zeros(size, np.int8)
        direction[self.index] = self.direction
        return Signals(direction, (direction != 0).astype(np.float64))


@dataclass(frozen=True)
class Kernel:
    """How one strategy's grid points share indicator series."""

    indicators: Callable[[Mapping[str, Any]], list[Key]]
    compute: Callable[[np.ndarray, Key], np.ndarray]
    turns: Callable[[Dataset, Mapping[str, Any]], Turns]


@dataclass(frozen=True)
class Dataset:
    """One dataset ready for many grid points: the candles, their closes and shared indicators.

    ``tie`` is the tolerance under which two averages are equal (``TIE`` × |close|), ``below``
    its negative, ``move`` the outcome of a call opened at each candle. ``gaps`` are the candles
    whose contract would not expire exactly ``expiry`` × ``timeframe`` later (a gap in the data),
    for the timeframe the dataset was prepared with. ``settled[key]`` is the first candle from
    which the series ``key`` is a finite number for good (its warm-up is over).
    ``candles`` is kept only for strategies without a kernel (their signals need the frame).
    """

    times: np.ndarray
    close: np.ndarray
    tie: np.ndarray
    below: np.ndarray
    move: np.ndarray
    timeframe: int | None = None
    gaps: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    series: dict[Key, np.ndarray] = field(default_factory=dict)
    settled: dict[Key, int] = field(default_factory=dict)
    candles: pd.DataFrame | None = None


def _settled(values: np.ndarray) -> int:
    """The first index after the last value that is NaN or infinite (0 when there is none)."""
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[-1]) + 1 if len(bad) else 0


def _sma_keys(p: Mapping[str, Any]) -> list[Key]:
    return [("sma", int(p["fast"])), ("sma", int(p["slow"]))]


def _sma(close: np.ndarray, key: Key) -> np.ndarray:
    return ind.sma(close, int(key[1]))  # type: ignore[call-overload]


def _sma_cross(data: Dataset, p: Mapping[str, Any]) -> Turns:
    # strategies.base.state + crossings, written sparsely: the side (+1 fast above, -1 below, 0
    # within the tie) as int8, then only the candles where the side changes can be turns; a turn
    # counts when the new side is not a tie and the candle before had both averages (no NaN).
    fast, slow = ("sma", int(p["fast"])), ("sma", int(p["slow"]))
    diff = data.series[fast] - data.series[slow]
    side = np.greater(diff, data.tie).view(np.int8)
    np.subtract(side, np.less(diff, data.below).view(np.int8), out=side)
    before = np.flatnonzero(side[1:] != side[:-1])
    now = side[1:][before]
    keep = now != 0
    # Past both warm-ups the difference is a number; only the turns before need the NaN test.
    early = int(np.searchsorted(before, max(data.settled[fast], data.settled[slow])))
    keep[:early] &= ~np.isnan(diff[before[:early]])
    return Turns(before[keep] + 1, now[keep])


def _rsi_keys(p: Mapping[str, Any]) -> list[Key]:
    return [("rsi", int(p["period"]))]


def _rsi(close: np.ndarray, key: Key) -> np.ndarray:
    return ind.rsi(close, int(key[1]))  # type: ignore[call-overload]


def _rsi_reversal(data: Dataset, p: Mapping[str, Any]) -> Turns:
    # strategies.rsi_reversal.signals on a precomputed RSI: the same comparisons, the same order.
    r = data.series[("rsi", int(p["period"]))]
    prev = np.concatenate(([np.nan], r[:-1]))
    call = (prev <= p["oversold"]) & (r > p["oversold"])
    put = (prev >= p["overbought"]) & (r < p["overbought"])
    direction = call.astype(np.int8) - put.astype(np.int8)
    index = np.flatnonzero(direction)
    return Turns(index, direction[index])


KERNELS: dict[str, Kernel] = {
    "sma_cross": Kernel(_sma_keys, _sma, _sma_cross),
    "rsi_reversal": Kernel(_rsi_keys, _rsi, _rsi_reversal),
}


def kernel_of(strategy: Strategy) -> Kernel | None:
    """The shared-work kernel of a built-in strategy; None for the others and for user files."""
    from .strategies import STRATEGIES

    if STRATEGIES.get(strategy.name) is not strategy:
        return None
    return KERNELS.get(strategy.name)


def prepare(
    candles: pd.DataFrame,
    strategy: Strategy,
    points: list[dict[str, Any]],
    expiry: int,
    mapper: Callable[[Callable[[Key], Any], list[Key]], Iterable[Any]] = map,
    timeframe: int | None = None,
) -> Dataset:
    """The dataset with every distinct indicator series the points need, each computed once.

    ``mapper`` computes the series (``map``, or a parallel map: they are independent).

    ``move`` is the sign of the close ``expiry`` candles later minus the close (the outcome of a
    call opened at each candle), the subtraction the engine makes for each contract. With a
    ``timeframe``, the candles a gap in the data voids are found once too.
    """
    close = np.asarray(candles["close"], dtype=np.float64)
    times = np.asarray(candles["time"], dtype=np.int64)
    tie = TIE * np.abs(close)
    move = np.sign(close[expiry:] - close[:-expiry]).astype(np.int8)
    gaps = np.empty(0, np.int64)
    if timeframe:
        gaps = np.flatnonzero(times[expiry:] - times[:-expiry] != expiry * timeframe)
    common = (times, close, tie, -tie, move, timeframe or None, gaps)
    kernel = kernel_of(strategy)
    if kernel is None:
        return Dataset(*common, candles=candles)
    keys = list(dict.fromkeys(k for p in points for k in kernel.indicators(p)))
    done = list(mapper(functools.partial(_computed, kernel.compute, close), keys))
    series = {k: values for k, (values, _) in zip(keys, done, strict=True)}
    return Dataset(*common, series, {k: settled for k, (_, settled) in zip(keys, done, strict=True)})


def _computed(
    compute: Callable[[np.ndarray, Key], np.ndarray], close: np.ndarray, key: Key
) -> tuple[np.ndarray, int]:
    """One indicator series and where its warm-up ends (see :class:`Dataset`)."""
    values = compute(close, key)
    return values, _settled(values)


def point_signals(data: Dataset, strategy: Strategy, params: Mapping[str, Any]) -> Signals | Turns:
    """The strategy's signals for one parameter set: sparse from the shared series where it can."""
    if data.candles is not None:
        return strategy.signals(data.candles, **params)
    # prepare() kept no candles, so the strategy has a kernel; looked up by name because a worker
    # process holds its own copy of the strategy object.
    return KERNELS[strategy.name].turns(data, params)


def signals_of(data: Dataset, strategy: Strategy, params: Mapping[str, Any]) -> Signals:
    """The strategy's signals for one parameter set, a direction and a confidence per candle."""
    sig = point_signals(data, strategy, params)
    return sig.signals(len(data.close)) if isinstance(sig, Turns) else sig
