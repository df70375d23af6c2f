"""``GET /api/assets``: what can be streamed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from quantumflux.bus.timeframes import label
from quantumflux.gateway.rooms import Catalog
from quantumflux.gateway.routes.answers import documented
from quantumflux.gateway.routes.bodies import Assets


class AssetRoutes:
    """The assets and timeframes of the live catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.router = APIRouter()
        self.router.add_api_route(
            "/api/assets",
            self.assets,
            methods=["GET"],
            response_model=None,
            responses=documented(Assets, {}),
        )

    async def assets(self) -> dict[str, Any]:
        """Every asset that can be streamed and every timeframe, shortest first."""
        return {
            "assets": self.catalog.asset_list(),
            "timeframes": [label(t) for t in self.catalog.timeframes],
        }
