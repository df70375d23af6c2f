"""``GET /health``: whether the gateway can reach Redis (open to probes even when a token is asked)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from quantumflux.bus.connection import RETRIABLE
from quantumflux.gateway.browsers import Browsers
from quantumflux.gateway.routes.bodies import Degraded, Healthy
from quantumflux.gateway.store import BusStore


class HealthRoutes:
    """The health probe."""

    def __init__(self, store: BusStore, browsers: Browsers) -> None:
        self.store = store
        self.browsers = browsers
        self.router = APIRouter()
        self.router.add_api_route(
            "/health",
            self.health,
            methods=["GET"],
            responses={
                200: {"model": Healthy},
                503: {"model": Degraded, "description": "Redis does not answer."},
            },
        )

    async def health(self) -> JSONResponse:
        """``ok`` when Redis answers, else 503 ``degraded``."""
        for attempt in range(2):
            try:
                await self.store.ping()
                return JSONResponse({"status": "ok", "redis": "connected", "clients": len(self.browsers)})
            except RETRIABLE:
                if attempt == 0:
                    await asyncio.sleep(0.1)  # a pooled connection left over from a Redis restart
        return JSONResponse({"status": "degraded", "redis": "disconnected"}, status_code=503)
