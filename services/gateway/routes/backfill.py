"""``POST /api/backfill``: get an asset's history from the web app, as ``qf backfill`` does.

It pages older candles back through the trader's own page, so like the trading stop it asks for
the API token whenever one is set, even on loopback. One backfill at a time per asset and
timeframe: a second request is refused with the running one's progress.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from quantumflux.gateway.auth import NEEDS_TOKEN, action_ok
from quantumflux.gateway.backfills import BackfillDesk
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.rooms import Catalog, StreamRequestError
from quantumflux.gateway.routes.answers import NEEDS_TOKEN_WHY, documented, error
from quantumflux.gateway.routes.bodies import BackfillBusy, BackfillProgress, BackfillRequest

BUSY = "A backfill of this asset and timeframe is running; wait for it to end."
BACKFILL_ANSWERS = documented(
    None,
    {
        401: NEEDS_TOKEN_WHY,
        400: "A timeframe that cannot be read (code bad_timeframe).",
        404: "An asset or timeframe nothing is known of (code unknown_asset or unknown_timeframe).",
        422: "A body that is not {asset, timeframe, days}, or days outside 0–366.",
    },
) | {
    202: {"model": BackfillProgress, "description": "Started; backfill_progress tells the rest."},
    409: {"model": BackfillBusy, "description": BUSY},
}


class BackfillRoutes:
    """Starts backfills; their progress goes to every browser as ``backfill_progress``."""

    def __init__(self, settings: GatewaySettings, catalog: Catalog, desk: BackfillDesk) -> None:
        self.settings = settings
        self.catalog = catalog
        self.desk = desk
        self.router = APIRouter()
        self.router.add_api_route(
            "/api/backfill",
            self.start,
            methods=["POST"],
            response_model=None,
            status_code=202,
            responses=BACKFILL_ANSWERS,
        )

    async def start(self, body: BackfillRequest, request: Request) -> JSONResponse | dict[str, Any]:
        """Start getting ``days`` of history of one asset and timeframe."""
        if not action_ok(self.settings, request.headers.get("authorization", "")):
            return error(401, NEEDS_TOKEN)
        try:
            stream = self.catalog.resolve(body.asset, body.timeframe)
        except StreamRequestError as exc:
            status = 404 if exc.code.startswith("unknown") else 400
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=status)
        running = self.desk.running(stream)
        if running is not None:
            return JSONResponse({"error": BUSY, "progress": running.payload()}, status_code=409)
        run = await self.desk.start(stream, body.days)
        return run.payload()
