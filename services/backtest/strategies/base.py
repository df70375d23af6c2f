"""What every strategy is: named parameters with defaults and limits, and a signals function.

A strategy's signals function takes the closed candles (a frame with ``time, open, high, low,
close, ticks``, oldest first) and its parameters, and returns :class:`Signals`: for every candle a
direction (+1 call, −1 put, 0 none) decided at that candle's close, and a confidence in [0, 1].
The decision at candle ``i`` uses candles ``0..i`` only, so the live signals service can run the
same function on its last :meth:`Strategy.lookback` closed candles and get, for the newest
candle, the decision the backtest got at that index.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Two values closer than this share of the price are equal: their difference is rounding noise of
# the moving averages, not a move of the market (prices carry 5-6 decimals).
TIE = 1e-10


class StrategyError(ValueError):
    """A strategy or a parameter that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Signals:
    """Per candle: ``direction`` (int8: +1 call, −1 put, 0 none) and ``confidence`` (0..1)."""

    direction: np.ndarray
    confidence: np.ndarray


@dataclass(frozen=True)
class Param:
    """One parameter of a strategy: whole number or decimal, its default and its limits."""

    name: str
    kind: type
    default: float
    minimum: float
    maximum: float
    help: str

    def schema(self) -> dict[str, Any]:
        """JSON-schema of the parameter (``GET /strategies``)."""
        return {
            "type": "integer" if self.kind is int else "number",
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "description": self.help,
        }

    def parse(self, value: object) -> float:
        """The value as this parameter's type, or :class:`StrategyError` saying what is wrong."""
        number: float
        if isinstance(value, bool):
            raise StrategyError(f"{self.name} must be a number, not {value!r}")
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise StrategyError(f"{self.name} must be a number, not {value!r}") from None
        else:
            raise StrategyError(f"{self.name} must be a number, not {value!r}")
        if not math.isfinite(number):
            raise StrategyError(f"{self.name} must be a finite number")
        if self.kind is int:
            if number != int(number):
                raise StrategyError(f"{self.name} must be a whole number, not {value!r}")
            number = int(number)
        if not self.minimum <= number <= self.maximum:
            raise StrategyError(
                f"{self.name} must be between {self.minimum} and {self.maximum}, not {value!r}"
            )
        return number


SignalsFn = Callable[..., Signals]


@dataclass(frozen=True)
class Strategy:
    """A named strategy: its parameters, its signals function and how much history it needs."""

    name: str
    summary: str
    params: tuple[Param, ...]
    compute: SignalsFn
    needs: Callable[[dict[str, Any]], int]
    check: Callable[[dict[str, Any]], str | None] = lambda p: None

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {p.name: p.default for p in self.params}

    def resolve(self, given: Mapping[str, object] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``given`` (strings from the command line are fine), checked."""
        known = {p.name: p for p in self.params}
        out = self.defaults()
        for key, value in (given or {}).items():
            if key not in known:
                names = ", ".join(known) or "none"
                raise StrategyError(f"unknown parameter {key!r} for {self.name} (known: {names})")
            out[key] = known[key].parse(value)
        problem = self.check(out)
        if problem:
            raise StrategyError(f"{self.name}: {problem}")
        return out

    def lookback(self, params: Mapping[str, object] | None = None) -> int:
        """Closed candles the signals function needs to decide the newest one as the backtest did."""
        return int(self.needs(self.resolve(params)))

    def signals(self, candles: pd.DataFrame, **params: object) -> Signals:
        """Direction and confidence for every candle (parameters checked, defaults filled in)."""
        resolved = self.resolve(params)
        out = self.compute(candles, **resolved)
        return check_signals(out, len(candles), self.name)

    def decide(self, candles: pd.DataFrame, **params: object) -> tuple[int, float]:
        """The decision at the newest closed candle, as the live signals service needs it.

        Runs the signals function on the last :meth:`lookback` candles (all of them for a user
        strategy without ``LOOKBACK``) and returns ``(direction, confidence)`` of the last one: the
        decision the backtest made at that candle. ``(0, 0.0)`` while there are fewer candles.
        """
        resolved = self.resolve(params)
        need = int(self.needs(resolved))
        if len(candles) == 0 or len(candles) < need:
            return 0, 0.0
        window = candles.iloc[-need:].reset_index(drop=True) if need else candles
        sig = check_signals(self.compute(window, **resolved), len(window), self.name)
        return int(sig.direction[-1]), float(sig.confidence[-1])

    def schema(self) -> dict[str, Any]:
        """Name, summary and JSON-schema of the parameters (``GET /strategies``)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "parameters": {
                "type": "object",
                "properties": {p.name: p.schema() for p in self.params},
                "additionalProperties": False,
            },
        }


def check_signals(out: object, n: int, name: str) -> Signals:
    """``out`` as :class:`Signals` of length ``n``; :class:`StrategyError` if it is not that."""
    if isinstance(out, Signals):
        direction, confidence = out.direction, out.confidence
    elif isinstance(out, tuple) and len(out) == 2:
        direction, confidence = out
    else:
        raise StrategyError(f"{name} must return (direction, confidence), not {type(out).__name__}")
    try:
        d = np.asarray(direction)
        c = np.asarray(confidence, dtype=np.float64)
    except (TypeError, ValueError):
        raise StrategyError(f"{name} returned values that are not numbers") from None
    if d.shape != (n,) or c.shape != (n,):
        raise StrategyError(f"{name} must return one direction and one confidence per candle ({n})")
    if d.dtype.kind not in "iub":
        try:
            d = np.nan_to_num(np.asarray(d, dtype=np.float64), nan=0.0)
        except (TypeError, ValueError):
            raise StrategyError(f"{name} returned directions that are not numbers") from None
        if not ((d == -1) | (d == 0) | (d == 1)).all():
            raise StrategyError(f"{name}: a direction must be +1 (call), -1 (put) or 0 (none)")
    elif n and (d.min() < -1 or d.max() > 1):
        raise StrategyError(f"{name}: a direction must be +1 (call), -1 (put) or 0 (none)")
    if np.isnan(c).any():
        c = np.nan_to_num(c, nan=0.0)
    if n and (c.min() < 0 or c.max() > 1):
        raise StrategyError(f"{name}: a confidence must be between 0 and 1")
    return Signals(d.astype(np.int8, copy=False), c)


def state(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """+1 where ``a`` is above ``b``, −1 below, 0 equal (within ``TIE × scale``), NaN in warm-up."""
    diff = a - b
    tol = TIE * np.abs(scale)
    out = np.where(diff > tol, 1.0, np.where(diff < -tol, -1.0, 0.0))
    out[np.isnan(diff)] = np.nan
    return out


def crossings(s: np.ndarray) -> np.ndarray:
    """Direction where a :func:`state` series turns: +1 where it becomes above, −1 where below."""
    prev = np.concatenate(([np.nan], s[:-1]))
    up = (s == 1) & (prev <= 0)
    down = (s == -1) & (prev >= 0)
    out: np.ndarray = up.astype(np.int8) - down.astype(np.int8)
    return out


def ones_where(direction: np.ndarray) -> Signals:
    """Signals with confidence 1 wherever there is a direction."""
    return Signals(direction.astype(np.int8), (direction != 0).astype(np.float64))


def close_of(candles: pd.DataFrame) -> np.ndarray:
    """The close prices as float64."""
    return np.asarray(candles["close"], dtype=np.float64)
