"""``/api/signals``, ``/api/paper`` and ``/api/deals``: recent signals, paper trades, the user's deals."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from quantumflux.bus.connection import RETRIABLE
from quantumflux.bus.records import PaperContract, Record, Signal
from quantumflux.bus.timeframes import TimeframeError, parse_timeframe
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.routes.answers import REDIS_AWAY, REDIS_AWAY_WHY, documented, error
from quantumflux.gateway.routes.bodies import Deals, Paper, Signals
from quantumflux.gateway.store import BusStore
from quantumflux.gateway.trades import paper_payload, signal_payload

SCAN_SIGNALS = 5000

SIGNALS_ANSWERS = documented(
    Signals, {400: "A timeframe that cannot be read.", 422: "A limit outside 1–5000.", 503: REDIS_AWAY_WHY}
)
PAPER_ANSWERS = documented(Paper, {422: "A limit outside 1–10000.", 503: REDIS_AWAY_WHY})
DEALS_ANSWERS = documented(Deals, {})


def pick_signals(records: list[Record], asset: str | None, tf: int | None) -> list[dict[str, Any]]:
    """The signals of one asset and/or timeframe (any when None), oldest first."""
    return [
        signal_payload(r)
        for r in records
        if isinstance(r, Signal) and asset in (None, r.asset) and tf in (None, r.timeframe)
    ]


def pick_paper(records: list[Record]) -> list[dict[str, Any]]:
    """The paper trade events, oldest first."""
    return [paper_payload(r) for r in records if isinstance(r, PaperContract)]


class TradeRoutes:
    """What the strategies said and traded on paper, and what the user traded."""

    def __init__(self, model: ReadModel, store: BusStore) -> None:
        self.model = model
        self.store = store
        self.router = APIRouter()
        add = self.router.add_api_route
        add("/api/signals", self.signals, methods=["GET"], response_model=None, responses=SIGNALS_ANSWERS)
        add("/api/paper", self.paper, methods=["GET"], response_model=None, responses=PAPER_ANSWERS)
        add("/api/deals", self.deals, methods=["GET"], response_model=None, responses=DEALS_ANSWERS)

    async def signals(
        self,
        asset: str | None = Query(None, description="Only this asset's signals.", examples=["EURUSD_otc"]),
        timeframe: str | None = Query(None, description="Only this timeframe's: 1m or 60.", examples=["1m"]),
        limit: int = Query(100, ge=1, le=5000),
    ) -> JSONResponse | dict[str, Any]:
        """The newest signals; 400 for a timeframe that cannot be read."""
        tf = None
        if timeframe is not None:
            try:
                tf = parse_timeframe(timeframe)
            except (TimeframeError, ValueError):
                return error(400, f"The timeframe {timeframe!r} cannot be read (try 1m, 5m or 60).")
        # Filtered from a wider look back, so a busy asset does not hide the one asked for.
        look = limit if asset is None and tf is None else min(SCAN_SIGNALS, limit * 20)
        try:
            rows = await self.store.recent(self.store.keys.signals(), look)
        except RETRIABLE:
            return error(503, REDIS_AWAY)
        return {"signals": pick_signals(rows, asset, tf)[-limit:]}

    async def paper(self, limit: int = Query(200, ge=1, le=10000)) -> JSONResponse | dict[str, Any]:
        """The newest paper trade events."""
        try:
            rows = await self.store.recent(self.store.keys.paper(), limit)
        except RETRIABLE:
            return error(503, REDIS_AWAY)
        return {"paper": pick_paper(rows)}

    async def deals(self) -> dict[str, Any]:
        """The user's deals and balance as the gateway has seen them."""
        return self.model.account.snapshot()
