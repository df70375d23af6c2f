"""The backtest service over HTTP (FastAPI): strategies, datasets, backtests.

``GET /health``, ``GET /strategies`` (names, summaries, JSON-schema of parameters), ``GET /datasets``
(ids under the data folder with candles, first and last time, timeframe and gaps),
``GET /datasets/{id}/candles?limit=N&before=T`` (the newest candles of a dataset),
``POST /backtests`` (a :class:`~.runner.BacktestRequest`, or the browser's ``{dataset, strategy,
params}``; the answer is what ``qf backtest --json`` prints). A backtest runs synchronously in the
server's worker threads and answers when done; there is no job id yet. Datasets are named by id
and looked up in the catalogue, never joined into a path; user strategy files are not accepted
over HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.bus.timeframes import label

from . import datasets, listing, runner
from .analysis import AnalysisError
from .config import BacktestSettings
from .engine import EngineError
from .loader import LoadError
from .strategies import STRATEGIES, StrategyError, get_strategy

log = logging.getLogger("qf.backtest")
SERVICE = "backtest"


class Counters:
    """What the heartbeat reports: requests, failures, the last run's duration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.failed = 0
        self.last_run_ms = 0.0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": self.requests, "failed": self.failed, "last_run_ms": self.last_run_ms}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _one_line(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def create_app(settings: BacktestSettings, heartbeat: bool = False) -> FastAPI:
    """The FastAPI app; ``heartbeat`` also keeps a heartbeat and status events on Redis."""
    counters = Counters()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        beat = _start_heartbeat(settings, counters) if heartbeat else None
        yield
        if beat is not None:
            _stop_heartbeat(settings, beat)

    app = FastAPI(title="QuantumFlux backtests", version="1", lifespan=lifespan)
    app.state.counters = counters
    app.state.listing = lister = listing.Listing()

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _one_line(exc))

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": SERVICE, "strategies": len(STRATEGIES)} | counters.snapshot()

    @app.get("/strategies")
    def strategies() -> dict[str, Any]:
        return {"strategies": [s.schema() for s in STRATEGIES.values()]}

    @app.get("/datasets")
    def list_datasets() -> dict[str, Any]:
        catalogue = datasets.discover(settings.data_dir)
        lister.forget_missing(catalogue)
        return {"datasets": [lister.describe(d) for d in catalogue.values()]}

    @app.get("/datasets/{ds_id}/candles")
    def dataset_candles(
        ds_id: str,
        limit: int = Query(default=listing.DEFAULT_LIMIT, ge=1, le=listing.MAX_LIMIT),
        before: str | None = None,
    ) -> JSONResponse:
        try:
            until = listing.parse_before(before)
        except ValueError as exc:
            return _error(422, str(exc))
        try:
            ds = datasets.lookup(datasets.discover(settings.data_dir), ds_id)
        except datasets.DatasetError as exc:
            return _error(404, str(exc))
        try:
            frame = lister.candles(ds)
        except LoadError as exc:
            return _error(422, _load_message(settings, exc))
        part, more = listing.newest(frame, limit, until)
        tf = ds.timeframe
        return JSONResponse(
            {
                "dataset": ds.id,
                "asset": ds.asset,
                "timeframe": label(tf) if tf else None,
                "timeframe_seconds": tf,
                "total": len(frame),
                "more": more,
                "candles": listing.candle_rows(part),
            }
        )

    @app.post("/backtests")
    def backtests(request: runner.BacktestRequest) -> JSONResponse:
        with counters.lock:
            counters.requests += 1
        started = time.perf_counter()
        try:
            for ds_id in request.datasets:
                datasets.check_id(ds_id)
            strategy = get_strategy(request.strategy)
            for name in request.compare:
                get_strategy(name)
            catalogue = datasets.discover(settings.data_dir)
            resolved = [datasets.lookup(catalogue, ds_id) for ds_id in request.datasets]
        except datasets.DatasetError as exc:
            return _fail(counters, 404 if str(exc).startswith("unknown") else 400, str(exc))
        except StrategyError as exc:
            return _fail(counters, 400, str(exc))
        try:
            result = runner.execute(request, resolved, strategy, max_candles=settings.backtest_max_candles)
        except LoadError as exc:
            return _fail(counters, 422, _load_message(settings, exc))
        except (StrategyError, EngineError, AnalysisError) as exc:
            return _fail(counters, 400, str(exc))
        with counters.lock:
            counters.last_run_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(result)

    return app


def _load_message(settings: BacktestSettings, exc: LoadError) -> str:
    # The file relative to the data folder: the answer never shows where that folder is.
    rel = exc.path.replace(str(settings.data_dir).rstrip("/") + "/", "")
    return f"{rel}:{exc.line}:{exc.column}: {exc.message}"


def _fail(counters: Counters, status: int, message: str) -> JSONResponse:
    with counters.lock:
        counters.failed += 1
    return _error(status, message)


def _start_heartbeat(settings: BacktestSettings, counters: Counters) -> Any:
    from services.bus.connection import RETRIABLE
    from services.bus.health import Heartbeat, publish_event, status_event

    beat = Heartbeat(settings, SERVICE, info=counters.snapshot).start()
    try:
        publish_event(beat.client, beat.keys, status_event(SERVICE, settings.instance, "running"))
    except RETRIABLE:
        log.warning("Redis is not reachable: backtests work, but this service shows as absent in qf status")
    return beat


def _stop_heartbeat(settings: BacktestSettings, beat: Any) -> None:
    from services.bus.connection import RETRIABLE
    from services.bus.health import publish_event, status_event

    try:
        publish_event(beat.client, beat.keys, status_event(SERVICE, settings.instance, "stopped"))
    except RETRIABLE:
        pass
    beat.stop()
