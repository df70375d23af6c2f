"""The way to the backtest service (datasets and backtests), relayed with httpx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from quantumflux.bus.timeframes import label
from quantumflux.gateway.rooms import Catalog

NOT_RUNNING = "The backtest service is not running. Start it with `qf backtest-service` (or `qf up`)."


class BacktestProxy:
    """Asks the backtest service on behalf of browsers; answers (status, body)."""

    def __init__(self, base_url: str, timeout: float, catalog: Catalog) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.catalog = catalog

    async def call(
        self, method: str, path: str, json: Any = None, params: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
                resp = await client.request(method, path, json=json, params=params)
        except httpx.TimeoutException:
            return 504, {"error": "The backtest service took too long to answer."}
        except httpx.HTTPError:
            return 503, {"error": NOT_RUNNING}
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:500]}
        return resp.status_code, body

    async def datasets(self) -> tuple[int, Any]:
        """``GET /datasets`` of the backtest service."""
        return await self.call("GET", "/datasets")

    async def candles(self, ds_id: str, limit: str | None, before: str | None) -> tuple[int, Any]:
        """``GET /datasets/{id}/candles`` of the backtest service, the id sent as one path segment."""
        params = {k: v for k, v in (("limit", limit), ("before", before)) if v is not None}
        return await self.call("GET", f"/datasets/{segment(ds_id)}/candles", params=params)

    async def strategies(self) -> tuple[int, Any]:
        """``GET /strategies`` of the backtest service."""
        return await self.call("GET", "/strategies")

    async def run(self, request: Any) -> tuple[int, Any]:
        """``POST /backtests`` after a first check that the request names a dataset and a strategy."""
        problem = check_backtest_request(request)
        if problem:
            return 422, {"error": problem}
        return await self.call("POST", "/backtests", json=request)

    async def available_data(self) -> dict[str, Any]:
        """What ``get_available_data`` answers: live assets and timeframes, datasets and strategies."""
        ds_status, datasets = await self.datasets()
        st_status, strategies = await self.strategies()
        out: dict[str, Any] = {
            "assets": self.catalog.asset_list(),
            "timeframes": [label(t) for t in self.catalog.timeframes],
            "datasets": datasets if ds_status < 400 else [],
            "strategies": strategies if st_status < 400 else [],
        }
        if ds_status >= 400:
            out["error"] = datasets.get("error") if isinstance(datasets, dict) else NOT_RUNNING
        return out


def segment(value: str) -> str:
    """``value`` as one URL path segment: every reserved character and dot escaped, so it is never
    read as a path (``..``, ``a/b``) on the way."""
    return quote(value, safe="").replace(".", "%2E")


def check_backtest_request(request: Any) -> str | None:
    """What is wrong with a backtest request, in plain words, or None."""
    if not isinstance(request, dict):
        return "Send the backtest as a JSON object with a dataset and a strategy."
    dataset = request.get("dataset", request.get("datasets"))
    if isinstance(dataset, str):
        dataset = [dataset]
    if not isinstance(dataset, list) or not dataset or not all(isinstance(d, str) and d for d in dataset):
        return "Say which dataset to test on (its id from the dataset list)."
    if any("/" in d or "\\" in d or ".." in d for d in dataset):
        return "A dataset is named by its id from the dataset list, not by a path."
    if not isinstance(request.get("strategy"), str) or not request["strategy"]:
        return "Say which strategy to run (its name from the strategy list)."
    params = request.get("params")
    if params is not None and not isinstance(params, dict):
        return "params must be an object of names and values."
    return None
