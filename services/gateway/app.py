"""The gateway put together: Socket.IO and REST on one port, the bus readers, the web app at ``/``.

Everything is made here, once, and handed what it needs: the read model the readers fill, the
browsers, the live feed, the stream desk, the Socket.IO namespace and the REST routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.middleware.base import BaseHTTPMiddleware

from quantumflux.bus.connection import connect_async
from quantumflux.bus.keys import Keys
from quantumflux.gateway.auth import TokenGuard
from quantumflux.gateway.backfills import BackfillDesk
from quantumflux.gateway.backtests import BacktestProxy
from quantumflux.gateway.browsers import Browsers
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.delivery import Delivery
from quantumflux.gateway.feed import LiveFeed
from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.namespace import BrowserNamespace
from quantumflux.gateway.reader import BusReader
from quantumflux.gateway.routes.answers import invalid_request, refused
from quantumflux.gateway.routes.assets import AssetRoutes
from quantumflux.gateway.routes.backfill import BackfillRoutes
from quantumflux.gateway.routes.backtests import BacktestRoutes
from quantumflux.gateway.routes.candles import CandleRoutes
from quantumflux.gateway.routes.datasets import DatasetRoutes
from quantumflux.gateway.routes.health import HealthRoutes
from quantumflux.gateway.routes.metrics import MetricsRoutes
from quantumflux.gateway.routes.trades import TradeRoutes
from quantumflux.gateway.routes.trading import TradingRoutes
from quantumflux.gateway.routes.web import WebRoutes, resolve_web_dir
from quantumflux.gateway.store import BusStore
from quantumflux.gateway.streams import StreamDesk


def socket_server(settings: GatewaySettings) -> socketio.AsyncServer:
    """The Socket.IO server: only the allowed origins, pings every 10 s, messages up to 1 MB."""
    return socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=settings.origins(),
        ping_interval=10,
        ping_timeout=20,
        max_http_buffer_size=1_000_000,
    )


def rest_api(settings: GatewaySettings, routers: list[Any]) -> FastAPI:
    """The REST API with its schema at ``/openapi.json`` and ``/docs``, guarded by the token."""
    api = FastAPI(title="QuantumFlux gateway", docs_url="/docs", openapi_url="/openapi.json")
    api.add_exception_handler(RequestValidationError, invalid_request)
    api.add_exception_handler(HTTPException, refused)
    api.add_middleware(
        CORSMiddleware,
        allow_origins=settings.origins(),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )
    api.add_middleware(BaseHTTPMiddleware, dispatch=TokenGuard(settings))
    for routes in routers:  # the web app's catch-all comes last
        api.include_router(routes.router)
    return api


def feed_all(browsers: Browsers, delivery: Delivery, progress: dict[str, Any]) -> None:
    """Tell every browser how a backfill stands (any chart may show that asset)."""
    for client in browsers.all():
        delivery.put(client, "backfill_progress", progress)


class Gateway:
    """One gateway: its parts, its ASGI app, and how it starts and stops."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.model = ReadModel()
        redis = connect_async(settings)
        keys = Keys(settings.prefix)
        self.store = BusStore(redis, keys, self.model, settings.instance)
        sio = socket_server(settings)
        self.browsers = Browsers()
        delivery = Delivery(sio, self.metrics, settings.gateway_send_backlog)
        self.desk = StreamDesk(settings, self.model, self.store, self.browsers, delivery, self.metrics)
        feed = LiveFeed(self.model, self.browsers, delivery, self.desk, self.metrics, self.store.announce)
        self.reader = BusReader(settings, redis, keys, self.model, feed)
        self.backfills = BackfillDesk(settings, lambda news: feed_all(self.browsers, delivery, news))
        proxy = BacktestProxy(settings.backtest_url, settings.backtest_timeout, self.model.catalog)
        sio.register_namespace(
            BrowserNamespace(settings, self.model, self.browsers, delivery, self.desk, proxy, self.metrics)
        )
        self.api = rest_api(settings, self._routes(proxy))
        self.asgi = socketio.ASGIApp(
            sio, other_asgi_app=self.api, on_startup=self.start, on_shutdown=self.stop
        )

    def _routes(self, proxy: BacktestProxy) -> list[Any]:
        return [
            HealthRoutes(self.store, self.browsers),
            AssetRoutes(self.model.catalog),
            CandleRoutes(self.model, self.store, self.settings.data_dir),
            BackfillRoutes(self.settings, self.model.catalog, self.backfills),
            DatasetRoutes(proxy),
            TradeRoutes(self.model, self.store),
            TradingRoutes(self.settings, self.model),
            BacktestRoutes(proxy),
            MetricsRoutes(self.model, self.metrics),
            WebRoutes(resolve_web_dir(self.settings.gateway_web_dir)),
        ]

    async def start(self) -> None:
        """Read the bus and say the gateway runs."""
        gc.freeze()  # the objects made at start never need collecting; keeps GC pauses short
        await self.reader.start()
        where = f"listening on {self.settings.gateway_host}:{self.settings.gateway_port}"
        await self.store.announce("running", where)

    async def stop(self) -> None:
        """Say the gateway stops, then stop the senders and the readers."""
        # Each with a time limit: a stop must never hang the process.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.store.announce("stopped", "stopped"), 2)
        for client in self.browsers.all():
            if client.task is not None:
                client.task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.reader.stop(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.backfills.stop(), 6)

    def info(self) -> dict[str, Any]:
        """What the heartbeat carries."""
        return {
            "clients": len(self.browsers),
            "relayed": self.model.counters["relayed"],
            "malformed": self.model.counters["malformed"],
            "lag": round(self.model.lag, 3),
            "port": self.settings.gateway_port,
        }
