"""The built-in strategies by name."""

from __future__ import annotations

from . import bollinger_reversal, macd_cross, quantum_flux, rsi_reversal, sma_cross
from .base import Strategy, StrategyError

STRATEGIES: dict[str, Strategy] = {
    m.STRATEGY.name: m.STRATEGY
    for m in (sma_cross, rsi_reversal, macd_cross, bollinger_reversal, quantum_flux)
}


def get_strategy(name: str) -> Strategy:
    """The built-in strategy called ``name``; :class:`StrategyError` listing the names otherwise."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise StrategyError(f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})") from None
