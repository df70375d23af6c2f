"""``/api/backtests``: a backtest, checked here first, run by the backtest service; and
``/api/backtests/jobs…``: the same as background jobs, relayed to the service's ``/jobs``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi import Path as PathPart
from fastapi.responses import JSONResponse

from quantumflux.backtest.schemas import JobCreated, JobInfo, JobList
from quantumflux.gateway.backtests import BacktestProxy, check_backtest_request, segment
from quantumflux.gateway.routes.answers import NOT_RUNNING_WHY, TOO_SLOW_WHY, documented, error
from quantumflux.gateway.routes.bodies import BACKTEST_BODY, BacktestResult

NOT_JSON = "The request body must be JSON (plain, not nested thousands of levels deep)."
AWAY = {503: NOT_RUNNING_WHY, 504: TOO_SLOW_WHY}

ANSWERS = documented(
    BacktestResult,
    {
        400: "The body is not JSON; or the backtest service's 400: an unknown strategy, parameters it refuses.",
        404: "No dataset has this id.",
        422: "The body names no dataset or strategy, names a dataset by a path, or does not fit the schema.",
    }
    | AWAY,
)
SUBMIT_ANSWERS = documented(
    None,
    {
        400: "The body is not JSON; or the backtest service's 400: an unknown strategy, parameters it refuses.",
        404: "No dataset has this id.",
        422: "The body names no dataset or strategy, or its kind cannot run on it (a grid without ranges).",
    }
    | AWAY,
)
SUBMIT_ANSWERS[202] = {"model": JobCreated, "description": "The job is queued."}
LIST_ANSWERS = documented(JobList, AWAY)
JOB_ANSWERS = documented(JobInfo, {404: "No job has this id."} | AWAY)
JOB_BODY = BACKTEST_BODY | {
    "description": "What POST /api/backtests takes, plus kind: backtest, grid, walk_forward or monte_carlo.",
    "examples": [
        {
            "dataset": "EURUSD_otc-1m",
            "strategy": "sma_cross",
            "kind": "grid",
            "grid": {"fast": "3:9:2", "slow": "20,30"},
        }
    ],
}
JobId = PathPart(description="A job's id (POST /api/backtests/jobs).")


class BacktestRoutes:
    """Runs a backtest on behalf of a browser or a tool, now or as a job."""

    def __init__(self, proxy: BacktestProxy) -> None:
        self.proxy = proxy
        self.router = APIRouter()
        add = self.router.add_api_route
        body = {"requestBody": {"required": True, "content": {"application/json": {"schema": BACKTEST_BODY}}}}
        add("/api/backtests", self.run, methods=["POST"], responses=ANSWERS, openapi_extra=body)
        job_body = {"requestBody": {"required": True, "content": {"application/json": {"schema": JOB_BODY}}}}
        add(
            "/api/backtests/jobs",
            self.submit,
            methods=["POST"],
            status_code=202,
            responses=SUBMIT_ANSWERS,
            openapi_extra=job_body,
        )
        add("/api/backtests/jobs", self.jobs, methods=["GET"], responses=LIST_ANSWERS)
        add("/api/backtests/jobs/{job_id}", self.job, methods=["GET"], responses=JOB_ANSWERS)
        add("/api/backtests/jobs/{job_id}", self.cancel, methods=["DELETE"], responses=JOB_ANSWERS)

    async def run(self, request: Request) -> JSONResponse:
        """400 when the body is not JSON, 422 when it names no dataset or strategy."""
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
            return error(400, NOT_JSON)
        status, answer = await self.proxy.run(body)
        return JSONResponse(answer, status_code=status)

    async def submit(self, request: Request) -> JSONResponse:
        """A job: the same first checks as a backtest, then the service's ``POST /jobs``."""
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            return error(400, NOT_JSON)
        problem = check_backtest_request(body)
        if problem:
            return error(422, problem)
        return self._answer(await self.proxy.call("POST", "/jobs", json=body))

    async def jobs(self) -> JSONResponse:
        """Every job, the newest first."""
        return self._answer(await self.proxy.call("GET", "/jobs"))

    async def job(self, job_id: str = JobId) -> JSONResponse:
        """One job: its progress and, once done, its result."""
        return self._answer(await self.proxy.call("GET", f"/jobs/{segment(job_id)}"))

    async def cancel(self, job_id: str = JobId) -> JSONResponse:
        """Cancel a job; a running one stops at its next progress step."""
        return self._answer(await self.proxy.call("DELETE", f"/jobs/{segment(job_id)}"))

    @staticmethod
    def _answer(reply: tuple[int, object]) -> JSONResponse:
        status, body = reply
        return JSONResponse(body, status_code=status)
