"""``/api/orders``, ``/api/trading`` and the kill switch ``POST /api/trading/stop``.

The web app can stop trading and never start it: there is deliberately no route that resumes
trading, raises a stake or loosens a limit (``qf trade resume`` on the command line only). The stop
is the one ``qf trade stop`` writes, through the trader's own store: kept, so a trader started
later stays stopped, and sent to the running trader. It asks for the API token whenever one is
set, even on loopback, where the other routes do not.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import redis
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from quantumflux.bus.connection import connect_sync
from quantumflux.bus.keys import Keys
from quantumflux.gateway.auth import NEEDS_TOKEN, action_ok
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.orders import KEEP_ORDERS
from quantumflux.gateway.routes.answers import NEEDS_TOKEN_WHY, REDIS_AWAY, REDIS_AWAY_WHY, documented, error
from quantumflux.gateway.routes.bodies import Orders, Stopped, TradingStatus
from quantumflux.trader.store import OrderStore

STOP_MESSAGE = "stopped by the trader (web app)"
State = Literal["requested", "open", "rejected", "closed", "unknown"]

ORDERS_ANSWERS = documented(Orders, {422: "A state that is not an order's, or a limit outside 1–1000."})
TRADING_ANSWERS = documented(TradingStatus, {})
STOP_ANSWERS = documented(Stopped, {401: NEEDS_TOKEN_WHY, 503: REDIS_AWAY_WHY})


def stop_trading(store: OrderStore, message: str = STOP_MESSAGE) -> str:
    """What ``qf trade stop`` does: keep the stop, then tell the running trader; the command's id."""
    return store.kill_switch(message)


class TradingRoutes:
    """The trader's orders and status, and its kill switch."""

    def __init__(self, settings: GatewaySettings, model: ReadModel) -> None:
        self.settings = settings
        self.model = model
        self._store: OrderStore | None = None
        self.router = APIRouter()
        add = self.router.add_api_route
        add("/api/orders", self.orders, methods=["GET"], response_model=None, responses=ORDERS_ANSWERS)
        add("/api/trading", self.trading, methods=["GET"], response_model=None, responses=TRADING_ANSWERS)
        add("/api/trading/stop", self.stop, methods=["POST"], response_model=None, responses=STOP_ANSWERS)

    async def orders(
        self,
        state: State | None = Query(
            None, description="Only the orders now in this state.", examples=["open"]
        ),
        limit: int = Query(200, ge=1, le=KEEP_ORDERS),
    ) -> dict[str, Any]:
        """The newest orders, each once in its newest state."""
        return {"orders": self.model.orders.listing(state, limit)}

    async def trading(self) -> dict[str, Any]:
        """Mode, state and why, limits and their use, open orders and results, as the trader said."""
        return self.model.trading

    async def stop(self, request: Request) -> JSONResponse | dict[str, Any]:
        """The kill switch: nothing new is placed; open orders are followed to their close."""
        if not action_ok(self.settings, request.headers.get("authorization", "")):
            return error(401, NEEDS_TOKEN)
        was = str(self.model.trading.get("state") or "off")
        try:
            command = await asyncio.to_thread(stop_trading, self.store())
        except redis.RedisError:  # (a lost connection, a time-out or a refusal)
            return error(503, REDIS_AWAY)
        return {
            "stopped": True,
            "message": "trading stopped: nothing new is placed; open orders are followed to their close.",
            "was": was,
            "command": command,
        }

    def store(self) -> OrderStore:
        if self._store is None:
            self._store = OrderStore(connect_sync(self.settings), Keys(self.settings.prefix))
        return self._store
