"""``/jobs``: backtests, grids, walk-forwards and Monte Carlo runs in the background.

``POST /jobs`` takes what ``POST /backtests`` takes, plus ``kind``, and answers at once with the
job's id; ``GET /jobs/{id}`` shows its progress and, once done, the result ``POST /backtests``
would have answered; ``GET /jobs`` lists every job, the newest first; ``DELETE /jobs/{id}``
cancels one. Mistakes that can be seen before running (an unknown dataset or strategy) are
refused at once, as ``POST /backtests`` refuses them; the others end the job as failed with the
same message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, ValidationError

from . import runner
from .answers import documented, error
from .backtests_api import EXAMPLE, BacktestBody, Refused, explain, resolve
from .job_board import JobBoard
from .jobs import Kind, for_kind
from .schemas import JobCreated, JobInfo, JobList

JOB_EXAMPLE: dict[str, Any] = EXAMPLE | {"kind": "grid", "grid": {"fast": "3:9:2", "slow": "20,30"}}

SUBMIT_ANSWERS = documented(
    JobCreated,
    {
        400: "A dataset id that is not an id, an unknown strategy, or parameters the strategy refuses.",
        404: "No dataset has this id.",
        422: "The body does not fit the schema, or its kind cannot run on it (a grid without ranges).",
    },
)
SUBMIT_ANSWERS[202] = SUBMIT_ANSWERS.pop(200) | {"description": "The job is queued."}
JOB_ANSWERS = documented(JobInfo, {404: "No job has this id."})
LIST_ANSWERS = documented(JobList, {})


class JobBody(BacktestBody):
    """A backtest request and the kind of job to run it as."""

    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    kind: Kind = Field(
        default="backtest",
        description=(
            "backtest: the request as it is; grid: a sweep of the grid ranges; walk_forward: the grid"
            " optimised window by window (walk_forward defaults to train 1000, test 250); monte_carlo:"
            " shuffles of the trades (monte_carlo defaults to 1000)."
        ),
    )


def jobs_router(board: JobBoard, data_dir: Path) -> APIRouter:
    """The job routes over ``board``."""
    router = APIRouter()

    @router.post("/jobs", status_code=202, responses=SUBMIT_ANSWERS, response_model=None)
    def submit(body: JobBody) -> JSONResponse:
        try:
            request = for_kind(body.kind, runner.BacktestRequest(**body.model_dump(exclude={"kind"})))
            strategy, resolved = resolve(request, data_dir)
            strategy.resolve(request.params)  # parameters it refuses: 400 now, not a failed job
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                return error(422, str(exc.errors()[0].get("msg", "invalid")))
            refused = explain(exc, data_dir)
            return error(refused.status, str(refused)) if refused else error(422, str(exc))
        except Refused as exc:
            return error(exc.status, str(exc))
        job = board.submit(body.kind, request, resolved, strategy)
        return JSONResponse({"id": job.id, "kind": job.kind, "state": job.state}, status_code=202)

    @router.get("/jobs", responses=LIST_ANSWERS, response_model=None)
    def jobs() -> dict[str, Any]:
        return {"jobs": [job.answer(with_result=False) for job in board.all()]}

    @router.get("/jobs/{job_id}", responses=JOB_ANSWERS, response_model=None)
    def job(job_id: str) -> JSONResponse:
        found = board.get(job_id)
        return JSONResponse(found.answer()) if found else error(404, f"no job has the id {job_id!r}")

    @router.delete("/jobs/{job_id}", responses=JOB_ANSWERS, response_model=None)
    def cancel(job_id: str) -> JSONResponse:
        found = board.cancel(job_id)
        return JSONResponse(found.answer()) if found else error(404, f"no job has the id {job_id!r}")

    return router
