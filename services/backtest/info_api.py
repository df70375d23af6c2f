"""``GET /health`` (with the counters) and ``GET /strategies``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .answers import Counters
from .schemas import Health, StrategyList
from .strategies import STRATEGIES

SERVICE = "backtest"


def info_router(counters: Counters) -> APIRouter:
    """The service's health and the strategies it can run."""
    router = APIRouter()

    @router.get("/health", response_model=None, responses={200: {"model": Health}})
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": SERVICE, "strategies": len(STRATEGIES)} | counters.snapshot()

    @router.get("/strategies", response_model=None, responses={200: {"model": StrategyList}})
    def strategies() -> dict[str, Any]:
        return {"strategies": [s.schema() for s in STRATEGIES.values()]}

    return router
