"""``/api/datasets``, a dataset's candles and ``/api/strategies``: the backtest service's answers."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi import Path as PathPart
from fastapi.responses import JSONResponse

from quantumflux.backtest.schemas import CANDLES_PAGE_MAX
from quantumflux.gateway.backtests import BacktestProxy
from quantumflux.gateway.routes.answers import NOT_RUNNING_WHY, TOO_SLOW_WHY, documented
from quantumflux.gateway.routes.bodies import DatasetCandles, DatasetList, StrategyList

AWAY = {503: NOT_RUNNING_WHY, 504: TOO_SLOW_WHY}
LIST_ANSWERS = documented(DatasetList, AWAY)
STRATEGY_ANSWERS = documented(StrategyList, AWAY)
CANDLES_ANSWERS = documented(
    DatasetCandles,
    {
        404: "No dataset has this id.",
        422: "limit or before cannot be read, or a file of the dataset has a bad value.",
    }
    | AWAY,
)


class DatasetRoutes:
    """Datasets and strategies, relayed from the backtest service as it answered."""

    def __init__(self, proxy: BacktestProxy) -> None:
        self.proxy = proxy
        self.router = APIRouter()
        add = self.router.add_api_route
        add("/api/datasets", self.datasets, methods=["GET"], responses=LIST_ANSWERS)
        add("/api/datasets/{ds_id}/candles", self.dataset_candles, methods=["GET"], responses=CANDLES_ANSWERS)
        add("/api/strategies", self.strategies, methods=["GET"], responses=STRATEGY_ANSWERS)

    async def datasets(self) -> JSONResponse:
        """The dataset list."""
        status, body = await self.proxy.datasets()
        return JSONResponse(body, status_code=status)

    async def dataset_candles(
        self,
        ds_id: str = PathPart(description="A dataset's id (/api/datasets).", examples=["EURUSD_otc-1m"]),
        limit: int | None = Query(None, ge=1, le=CANDLES_PAGE_MAX, description="The newest this many."),
        before: str | None = Query(
            None, description="Only candles opening before: epoch seconds or ISO 8601."
        ),
    ) -> JSONResponse:
        """A dataset's candles; ``before`` is read by the backtest service."""
        status, body = await self.proxy.candles(ds_id, None if limit is None else str(limit), before)
        return JSONResponse(body, status_code=status)

    async def strategies(self) -> JSONResponse:
        """The strategy list."""
        status, body = await self.proxy.strategies()
        return JSONResponse(body, status_code=status)
