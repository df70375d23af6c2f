"""The gateway's web server: Socket.IO and REST on one port, and the built web app at ``/``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
from pathlib import Path
from typing import Any

import socketio
from fastapi import FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.bus.connection import RETRIABLE
from services.bus.health import status_event
from services.bus.records import pack
from services.bus.timeframes import TimeframeError, label, parse_timeframe
from services.gateway.backtests import BacktestProxy
from services.gateway.config import GatewaySettings
from services.gateway.hub import Hub
from services.gateway.metrics import Metrics
from services.gateway.rooms import StreamRequestError, candle_payload, merge_history
from services.gateway.server import resolve_web_dir
from services.gateway.trades import TradeShapeError, paper_payload, signal_payload

NOT_BUILT = """QuantumFlux: the web app is not built yet.

Build it once with:

    cd web && npm install && npm run build

then reload this page. The live data is already served here over Socket.IO and /api.
"""

OPEN_PATHS = ("/health",)
SCAN_SIGNALS = 5000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(settings: GatewaySettings) -> tuple[socketio.ASGIApp, Hub]:
    """The ASGI app (Socket.IO in front of FastAPI) and its hub, not yet started."""
    metrics = Metrics()
    hub = Hub(settings, metrics)
    proxy = BacktestProxy(settings.backtest_url, settings.backtest_timeout, hub.relay.catalog)
    hub.backtests = proxy
    relay = hub.relay
    api = FastAPI(title="QuantumFlux gateway", docs_url="/api/docs", openapi_url="/api/openapi.json")
    api.add_middleware(
        CORSMiddleware,
        allow_origins=settings.origins(),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )

    @api.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        path = request.url.path
        guarded = path.startswith("/api/") or path == "/metrics"
        if settings.needs_token() and guarded and path not in OPEN_PATHS:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            expected = settings.api_token or ""
            if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(token.strip(), expected):
                return _error(
                    401, "A valid token is needed: send the header 'Authorization: Bearer <token>'."
                )
        response: Response = await call_next(request)
        return response

    @api.get("/health")
    async def health() -> JSONResponse:
        for attempt in range(2):
            try:
                await relay.redis.ping()
                return JSONResponse({"status": "ok", "redis": "connected", "clients": len(hub.clients)})
            except RETRIABLE:
                if attempt == 0:
                    await asyncio.sleep(0.1)  # a pooled connection left over from a Redis restart
        return JSONResponse({"status": "degraded", "redis": "disconnected"}, status_code=503)

    @api.get("/api/assets")
    async def assets() -> dict[str, Any]:
        return {
            "assets": relay.catalog.asset_list(),
            "timeframes": [label(t) for t in relay.catalog.timeframes],
        }

    @api.get("/api/candles", response_model=None)
    async def candles(
        asset: str | None = None, timeframe: str | None = None, limit: int = Query(500, ge=1, le=5000)
    ) -> JSONResponse | dict[str, Any]:
        try:
            stream = relay.catalog.resolve(asset, timeframe)
        except StreamRequestError as exc:
            status = 404 if exc.code.startswith("unknown") else 400
            return JSONResponse({"error": exc.message, "code": exc.code}, status_code=status)
        snap = relay.book.snapshot(stream)
        try:
            stored = await relay.read_series(stream, limit)
        except RETRIABLE:
            return _error(503, "Redis does not answer right now; try again in a moment.")
        rows, _ = merge_history(stored, snap, limit)
        return {
            "asset": stream.asset,
            "timeframe": stream.timeframe,
            "candles": [candle_payload(c) for c in rows],
        }

    @api.get("/api/datasets")
    async def datasets() -> JSONResponse:
        status, body = await proxy.datasets()
        return JSONResponse(body, status_code=status)

    @api.get("/api/datasets/{ds_id}/candles")
    async def dataset_candles(
        ds_id: str, limit: str | None = None, before: str | None = None
    ) -> JSONResponse:
        status, body = await proxy.candles(ds_id, limit, before)
        return JSONResponse(body, status_code=status)

    @api.get("/api/signals", response_model=None)
    async def signals(
        asset: str | None = None, timeframe: str | None = None, limit: int = Query(100, ge=1, le=5000)
    ) -> JSONResponse | dict[str, Any]:
        tf = None
        if timeframe is not None:
            try:
                tf = parse_timeframe(timeframe)
            except (TimeframeError, ValueError):
                return _error(400, f"The timeframe {timeframe!r} cannot be read (try 1m, 5m or 60).")
        # Filtered from a wider look back, so a busy asset does not hide the one asked for.
        look = limit if asset is None and tf is None else min(SCAN_SIGNALS, limit * 20)
        try:
            rows = await relay.recent(relay.keys.signals(), look)
        except RETRIABLE:
            return _error(503, "Redis does not answer right now; try again in a moment.")
        out = []
        for row in rows:
            try:
                a, t, payload = signal_payload(row)
            except TradeShapeError:
                continue
            if (asset is None or a == asset) and (tf is None or t == tf):
                out.append(payload)
        return {"signals": out[-limit:]}

    @api.get("/api/paper", response_model=None)
    async def paper(limit: int = Query(200, ge=1, le=10000)) -> JSONResponse | dict[str, Any]:
        try:
            rows = await relay.recent(relay.keys.paper(), limit)
        except RETRIABLE:
            return _error(503, "Redis does not answer right now; try again in a moment.")
        out = []
        for row in rows:
            try:
                out.append(paper_payload(row))
            except TradeShapeError:
                continue
        return {"paper": out}

    @api.get("/api/deals")
    async def deals() -> dict[str, Any]:
        return relay.account.snapshot()

    @api.get("/api/strategies")
    async def strategies() -> JSONResponse:
        status, body = await proxy.strategies()
        return JSONResponse(body, status_code=status)

    @api.post("/api/backtests")
    async def backtests(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
            return _error(400, "The request body must be JSON (plain, not nested thousands of levels deep).")
        status, answer = await proxy.run(body)
        return JSONResponse(answer, status_code=status)

    @api.get("/metrics")
    async def metrics_page() -> Response:
        metrics.relayed.set(relay.counters["relayed"])
        metrics.malformed.set(relay.counters["malformed"])
        metrics.lag.set(relay.lag)
        metrics.redis_up.set(1 if relay.redis_ok else 0)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Started from another folder, the relative default still finds the project's own build.
    web_dir = resolve_web_dir(settings).gateway_web_dir.resolve()

    @api.get("/{path:path}", response_model=None)
    async def web(path: str) -> Response:
        if path.startswith("api/"):
            return _error(404, "No such API endpoint.")
        index = web_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT)
        target = (web_dir / path).resolve()
        if path and target.is_file() and target.is_relative_to(web_dir):
            return FileResponse(target)
        return FileResponse(index)  # the app's own routes (single-page app)

    async def on_startup() -> None:
        gc.freeze()  # the objects made at start never need collecting; keeps GC pauses short
        await hub.start()
        await _announce(hub, "running", f"listening on {settings.gateway_host}:{settings.gateway_port}")

    async def on_shutdown() -> None:
        # In a task of its own, with a time limit: a stop must never hang the process.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_announce(hub, "stopped", "stopped"), 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(hub.stop(), 5)

    async def recovered() -> None:
        await _announce(hub, "recovered", "Redis answers again; relaying resumed")

    hub.on_recovered = recovered
    app = socketio.ASGIApp(hub.sio, other_asgi_app=api, on_startup=on_startup, on_shutdown=on_shutdown)
    return app, hub


async def _announce(hub: Hub, state: str, message: str) -> None:
    event = status_event("gateway", hub.settings.instance, state, message)
    try:
        await hub.relay.redis.xadd(
            hub.relay.keys.events(), {"d": pack(event)}, maxlen=10_000, approximate=True
        )
    except RETRIABLE:
        pass


def web_dir_exists(path: Path) -> bool:
    """True when a built web app (``index.html``) is in ``path``."""
    return (path / "index.html").is_file()
