"""Strategies: per closed candle a direction (call/put/none) and a confidence (0..1)."""

from .base import Param, Signals, Strategy, StrategyError
from .registry import STRATEGIES, get_strategy
from .user import load_strategy_file

__all__ = [
    "STRATEGIES",
    "Param",
    "Signals",
    "Strategy",
    "StrategyError",
    "get_strategy",
    "load_strategy_file",
]
