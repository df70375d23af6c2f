"""A strategy of the user's own: one Python file with one documented function, loaded by path.

The file defines::

    PARAMS = {"period": 10, "level": 0.5}   # optional: parameter names and defaults (numbers)
    LOOKBACK = 50                           # optional: closed candles the function needs

    def signals(candles, period=10, level=0.5):
        '''Direction (+1 call, -1 put, 0 none) and confidence (0..1) for every candle.'''
        ...
        return direction, confidence

``candles`` is a pandas frame (``time, open, high, low, close, ticks``, oldest first). The value at
candle i must use candles 0..i only. The file runs as Python with the user's rights: load only
files you wrote or trust (the service never loads strategy files; only ``qf backtest`` does).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from .base import Param, Strategy, StrategyError


def load_strategy_file(path: str | os.PathLike[str]) -> Strategy:
    """The strategy defined by the file at ``path``; :class:`StrategyError` saying what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise StrategyError(f"{p}: no such strategy file")
    spec = importlib.util.spec_from_file_location(f"qf_user_strategy_{abs(hash(str(p.resolve())))}", p)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{p}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise StrategyError(f"{p}:{exc.lineno}:{exc.offset}: {exc.msg}") from None
    except Exception as exc:
        raise StrategyError(f"{p}: the file failed to load: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, "signals", None)
    if not callable(fn):
        raise StrategyError(f"{p}: the file must define a function signals(candles, **params)")
    defaults = getattr(module, "PARAMS", {}) or {}
    if not isinstance(defaults, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in defaults.items()
    ):
        raise StrategyError(f"{p}: PARAMS must map parameter names to numbers")
    lookback = getattr(module, "LOOKBACK", None)
    params = tuple(
        Param(k, int if isinstance(v, int) else float, v, -1e12, 1e12, "Parameter of the user strategy.")
        for k, v in defaults.items()
    )

    def compute(candles: Any, **kw: Any) -> Any:
        try:
            return fn(candles, **kw)
        except Exception as exc:
            raise StrategyError(f"{p}: signals() failed: {type(exc).__name__}: {exc}") from None

    return Strategy(
        name=p.stem,
        summary=(fn.__doc__ or "A user strategy.").strip().splitlines()[0],
        params=params,
        compute=compute,
        needs=lambda _p: int(lookback) if isinstance(lookback, int) else 0,
    )
