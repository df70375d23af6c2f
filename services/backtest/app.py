"""The backtest service over HTTP (FastAPI): strategies, datasets, backtests.

``GET /health``, ``GET /strategies`` (names, summaries, JSON-schema of parameters), ``GET /datasets``
(ids under the data folder with candles, first and last time, timeframe and gaps),
``GET /datasets/{id}/candles?limit=N&before=T`` (the newest candles of a dataset),
``POST /backtests`` (a :class:`~.runner.BacktestRequest`, or the browser's ``{dataset, strategy,
params}``; the answer is what ``qf backtest --json`` prints), run while the request waits; and
``/jobs`` (:mod:`.jobs_api`), the same run in the background on a small pool, with its progress,
a way to cancel it, and its result kept under the data folder. Datasets are named by id and
looked up in the catalogue, never joined into a path; user strategy files are not accepted over
HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from . import listing
from .answers import Counters, error, one_line
from .backtests_api import backtests_router, explain
from .config import BacktestSettings
from .datasets_api import datasets_router
from .info_api import SERVICE, info_router
from .job_board import JobBoard
from .jobs_api import jobs_router

log = logging.getLogger("qf.backtest")


def create_app(settings: BacktestSettings, heartbeat: bool = False) -> FastAPI:
    """The FastAPI app; ``heartbeat`` also keeps a heartbeat and status events on Redis."""
    counters = Counters()
    board = JobBoard(settings.data_dir, settings.backtest_max_candles, lambda exc: _why(exc, settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        beat = _start_heartbeat(settings, counters) if heartbeat else None
        yield
        board.close()
        if beat is not None:
            _stop_heartbeat(settings, beat)

    app = FastAPI(title="QuantumFlux backtests", version="1", lifespan=lifespan)
    app.state.counters = counters
    app.state.listing = lister = listing.Listing()

    @app.exception_handler(RequestValidationError)
    async def _bad_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, one_line(exc))

    @app.exception_handler(HTTPException)
    async def _refused(_: Request, exc: HTTPException) -> JSONResponse:
        # FastAPI's own refusals (a body that is not JSON, no such path) in the same shape as ours.
        return error(exc.status_code, str(exc.detail))

    app.include_router(info_router(counters))
    app.include_router(datasets_router(settings.data_dir, lister))
    app.include_router(backtests_router(settings.data_dir, settings.backtest_max_candles, counters))
    app.include_router(jobs_router(board, settings.data_dir))
    app.state.jobs = board
    return app


def _why(exc: Exception, settings: BacktestSettings) -> str | None:
    refused = explain(exc, settings.data_dir)
    return str(refused) if refused is not None else None


def _start_heartbeat(settings: BacktestSettings, counters: Counters) -> Any:
    from quantumflux.bus.connection import RETRIABLE
    from quantumflux.bus.health import Heartbeat, publish_event, status_event

    beat = Heartbeat(settings, SERVICE, info=counters.snapshot).start()
    try:
        publish_event(beat.client, beat.keys, status_event(SERVICE, settings.instance, "running"))
    except RETRIABLE:
        log.warning("Redis is not reachable: backtests work, but this service shows as absent in qf status")
    return beat


def _stop_heartbeat(settings: BacktestSettings, beat: Any) -> None:
    from quantumflux.bus.connection import RETRIABLE
    from quantumflux.bus.health import publish_event, status_event

    try:
        publish_event(beat.client, beat.keys, status_event(SERVICE, settings.instance, "stopped"))
    except RETRIABLE:
        pass
    beat.stop()
