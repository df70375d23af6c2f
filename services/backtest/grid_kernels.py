"""Grid points that share work (pure): each distinct indicator is computed once per dataset.

A grid of ``sma_cross`` over (fast, slow) needs SMA(n) for every n on either axis, not one pair
of SMAs per point: 10 × 10 points need 20 SMAs, not 200. A :class:`Kernel` names the indicator
series a parameter set needs (``indicators``), computes one (``compute``), and turns the
precomputed series of a point into the strategy's signals (``signals``) with the very same
arithmetic as the strategy itself, so a point's signals are identical to ``strategy.signals``.

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
class Kernel:
    """How one strategy's grid points share indicator series."""

    indicators: Callable[[Mapping[str, Any]], list[Key]]
    compute: Callable[[np.ndarray, Key], np.ndarray]
    signals: Callable[[Dataset, Mapping[str, Any]], Signals]


@dataclass(frozen=True)
class Dataset:
    """One dataset ready for many grid points: the candles, their closes and shared indicators.

    ``tie`` is the tolerance under which two averages are equal (``TIE`` × |close|), ``below``
    its negative, ``move``
    the outcome of a call opened at each candle, and ``ones`` the confidence of every kernel
    signal: 1 wherever there is a direction (the engine reads it only there).
    ``candles`` is kept only for strategies without a kernel (their signals need the frame).
    """

    times: np.ndarray
    close: np.ndarray
    tie: np.ndarray
    below: np.ndarray
    move: np.ndarray
    ones: np.ndarray
    series: dict[Key, np.ndarray] = field(default_factory=dict)
    candles: pd.DataFrame | None = None


def _sma_keys(p: Mapping[str, Any]) -> list[Key]:
    return [("sma", int(p["fast"])), ("sma", int(p["slow"]))]


def _sma(close: np.ndarray, key: Key) -> np.ndarray:
    return ind.sma(close, int(key[1]))  # type: ignore[call-overload]


def _sma_cross(data: Dataset, p: Mapping[str, Any]) -> Signals:
    # strategies.base.state + crossings, written sparsely: the side (+1 fast above, -1 below, 0
    # within the tie) as int8, then only the candles where the side changes can be turns; a turn
    # counts when the candle before had both averages (no NaN) and the new side is not a tie.
    diff = data.series[("sma", int(p["fast"]))] - data.series[("sma", int(p["slow"]))]
    side = (diff > data.tie).view(np.int8) - (diff < data.below).view(np.int8)
    turn = np.flatnonzero(side[1:] != side[:-1]) + 1
    now = side[turn]
    keep = (now != 0) & ~np.isnan(diff[turn - 1])
    direction = np.zeros(len(diff), np.int8)
    direction[turn[keep]] = now[keep]
    return Signals(direction, data.ones)


def _rsi_keys(p: Mapping[str, Any]) -> list[Key]:
    return [("rsi", int(p["period"]))]


def _rsi(close: np.ndarray, key: Key) -> np.ndarray:
    return ind.rsi(close, int(key[1]))  # type: ignore[call-overload]


def _rsi_reversal(data: Dataset, p: Mapping[str, Any]) -> Signals:
    # strategies.rsi_reversal.signals on a precomputed RSI: the same comparisons, the same order.
    r = data.series[("rsi", int(p["period"]))]
    prev = np.concatenate(([np.nan], r[:-1]))
    call = (prev <= p["oversold"]) & (r > p["oversold"])
    put = (prev >= p["overbought"]) & (r < p["overbought"])
    direction = call.astype(np.int8) - put.astype(np.int8)
    return Signals(direction, data.ones)


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
    mapper: Callable[[Callable[[Key], np.ndarray], list[Key]], Iterable[np.ndarray]] = map,
) -> Dataset:
    """The dataset with every distinct indicator series the points need, each computed once.

    ``mapper`` computes the series (``map``, or a parallel map: they are independent).

    ``move`` is the sign of the close ``expiry`` candles later minus the close (the outcome of a
    call opened at each candle), the subtraction the engine makes for each contract.
    """
    close = np.asarray(candles["close"], dtype=np.float64)
    times = np.asarray(candles["time"], dtype=np.int64)
    tie = TIE * np.abs(close)
    move = np.sign(close[expiry:] - close[:-expiry]).astype(np.int8)
    kernel = kernel_of(strategy)
    ones = np.ones(len(close))
    if kernel is None:
        return Dataset(times, close, tie, -tie, move, ones, candles=candles)
    keys = list(dict.fromkeys(k for p in points for k in kernel.indicators(p)))
    series = mapper(functools.partial(kernel.compute, close), keys)
    return Dataset(times, close, tie, -tie, move, ones, dict(zip(keys, series, strict=True)))


def signals_of(data: Dataset, strategy: Strategy, params: Mapping[str, Any]) -> Signals:
    """The strategy's signals for one parameter set, from the shared series where it can."""
    if data.candles is not None:
        return strategy.signals(data.candles, **params)
    # prepare() kept no candles, so the strategy has a kernel; looked up by name because a worker
    # process holds its own copy of the strategy object.
    return KERNELS[strategy.name].signals(data, params)
