"""``GET /api/candles``: a live stream's history, as a browser gets it when the stream starts, and
older candles when the chart scrolls back (``before``): the stored series, then the files."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from quantumflux.bus.connection import RETRIABLE
from quantumflux.files.cells import LoadError
from quantumflux.gateway.history import file_candles
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.rooms import Stream, StreamRequestError, candle_payload, merge_history
from quantumflux.gateway.routes.answers import REDIS_AWAY, REDIS_AWAY_WHY, documented, error
from quantumflux.gateway.routes.bodies import History
from quantumflux.gateway.store import BusStore

log = logging.getLogger(__name__)

CANDLES_ANSWERS = documented(
    History,
    {
        400: "No asset, or a timeframe that cannot be read (code bad_request or bad_timeframe).",
        404: "An asset or timeframe nothing is known of (code unknown_asset or unknown_timeframe).",
        422: "A limit outside 1–5000, or a negative before.",
        503: REDIS_AWAY_WHY,
    },
)
BEFORE_WHY = (
    "Only candles that open before this time (epoch seconds): the `limit` closed candles before it, "
    "from the stored series and, older than it holds, from the files (live and backfilled, merged). "
    "Fewer than `limit` means history ends there."
)


class CandleRoutes:
    """Stored closed candles joined with what the relay saw since, and the forming one."""

    def __init__(self, model: ReadModel, store: BusStore, data_dir: Path) -> None:
        self.model = model
        self.store = store
        self.data_dir = data_dir
        self.router = APIRouter()
        self.router.add_api_route(
            "/api/candles",
            self.candles,
            methods=["GET"],
            response_model=None,
            responses=CANDLES_ANSWERS,
        )

    async def candles(
        self,
        asset: str | None = Query(
            None, description="The asset, as /api/assets names it.", examples=["EURUSD_otc"]
        ),
        timeframe: str | None = Query(None, description="A label (1m) or seconds (60).", examples=["1m"]),
        limit: int = Query(500, ge=1, le=5000),
        before: int | None = Query(None, ge=0, le=2**53, description=BEFORE_WHY),
    ) -> JSONResponse | dict[str, Any]:
        """400 for a request that cannot be read, 404 for an unknown asset or timeframe."""
        try:
            stream = self.model.catalog.resolve(asset, timeframe)
        except StreamRequestError as exc:
            status = 404 if exc.code.startswith("unknown") else 400
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=status)
        try:
            if before is None:
                rows = await self._latest(stream, limit)
            else:
                rows = await self._older(stream, before, limit)
        except RETRIABLE:
            return error(503, REDIS_AWAY)
        return {"asset": stream.asset, "timeframe": stream.timeframe, "candles": rows}

    async def _latest(self, stream: Stream, limit: int) -> list[dict[str, Any]]:
        snap = self.model.book.snapshot(stream)
        stored = await self.store.read_series(stream, limit)
        rows, _ = merge_history(stored, snap, limit)
        return [candle_payload(c) for c in rows]

    async def _older(self, stream: Stream, before: int, limit: int) -> list[dict[str, Any]]:
        stored = [candle_payload(c) for c in await self.store.read_series_before(stream, before, limit)]
        if len(stored) >= limit:
            return stored
        # The series keeps only the newest candles; what is older is on disk.
        edge = stored[0]["time"] if stored else before
        try:
            files = await asyncio.to_thread(
                file_candles, self.data_dir, stream.asset, stream.tf, edge, limit - len(stored)
            )
        except (LoadError, OSError) as exc:
            log.warning("older candles of %s %s: %s", stream.asset, stream.timeframe, exc)
            files = []
        return files + stored
