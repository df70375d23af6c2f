"""``POST /backtests``: a backtest run while the request waits; the answer is ``qf backtest --json``'s."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, WithJsonSchema

from quantumflux.files import datasets
from quantumflux.files.reader import LoadError

from . import runner
from .analysis import RANK_METRICS, AnalysisError
from .answers import Counters, documented, error, load_message
from .engine import EngineError
from .schemas import DATASET_ID_MAX, DATASET_ID_PATTERN, BacktestResult
from .strategies import STRATEGIES, Strategy, StrategyError, get_strategy

# The id's rule is shown in the schema but checked by datasets.check_id, which answers 400 with a
# message that says what an id is (a bare pattern mismatch would not).
DatasetId = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": DATASET_ID_PATTERN, "maxLength": DATASET_ID_MAX})
]

# Checked by get_strategy (400, with the names it knows); the schema lists them.
StrategyName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(STRATEGIES)})]

EXAMPLE: dict[str, Any] = {
    "datasets": ["EURUSD_otc-1m"],
    "strategy": "sma_cross",
    "params": {"fast": 5, "slow": 20},
}

ANSWERS = documented(
    BacktestResult,
    {
        400: "A dataset id that is not an id, an unknown strategy, or parameters the strategy refuses.",
        404: "No dataset has this id.",
        422: "The body does not fit the schema, or a file of a dataset has a bad value (file:line:column).",
    },
)


class BacktestBody(runner.BacktestRequest):
    """A backtest request over HTTP: the schema also names the datasets, strategies and metrics."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    datasets: list[DatasetId] = Field(min_length=1, max_length=50, description="Dataset ids (GET /datasets).")
    strategy: StrategyName = "sma_cross"
    compare: list[StrategyName] = Field(
        default_factory=list, description="Other strategies to run beside, with defaults."
    )
    metric: str = Field(default="net_profit", json_schema_extra={"enum": list(RANK_METRICS)})


class Refused(Exception):
    """A request that cannot run: the status and message of the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def backtests_router(data_dir: Path, max_candles: int, counters: Counters) -> APIRouter:
    """The backtest route over the datasets under ``data_dir``, counting into ``counters``."""
    router = APIRouter()

    @router.post("/backtests", responses=ANSWERS)
    def backtests(request: BacktestBody) -> JSONResponse:
        with counters.lock:
            counters.requests += 1
        started = time.perf_counter()
        try:
            strategy, resolved = resolve(request, data_dir)
            result = _run(request, resolved, strategy, data_dir, max_candles)
        except Refused as exc:
            with counters.lock:
                counters.failed += 1
            return error(exc.status, str(exc))
        with counters.lock:
            counters.last_run_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(result)

    return router


def resolve(request: runner.BacktestRequest, data_dir: Path) -> tuple[Strategy, list[datasets.Dataset]]:
    """The strategy and datasets a request names; :class:`Refused` when one is not known."""
    try:
        for ds_id in request.datasets:
            datasets.check_id(ds_id)
        strategy = get_strategy(request.strategy)
        for name in request.compare:
            get_strategy(name)
        catalogue = datasets.discover(data_dir)
        return strategy, [datasets.lookup(catalogue, ds_id) for ds_id in request.datasets]
    except datasets.DatasetError as exc:
        raise Refused(404 if str(exc).startswith("unknown") else 400, str(exc)) from None
    except StrategyError as exc:
        raise Refused(400, str(exc)) from None


def explain(exc: Exception, data_dir: Path) -> Refused | None:
    """The answer ``POST /backtests`` gives for an error of a run, or None for an error it does not expect."""
    if isinstance(exc, LoadError):
        return Refused(422, load_message(data_dir, exc))
    if isinstance(exc, StrategyError | EngineError | AnalysisError):
        return Refused(400, str(exc))
    return None


def _run(
    request: runner.BacktestRequest,
    resolved: list[datasets.Dataset],
    strategy: Strategy,
    data_dir: Path,
    max_candles: int,
) -> dict[str, object]:
    try:
        return runner.execute(request, resolved, strategy, max_candles=max_candles)
    except (LoadError, StrategyError, EngineError, AnalysisError) as exc:
        raise explain(exc, data_dir) or exc from None
