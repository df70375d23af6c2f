"""Error answers every route gives the same way: ``{error: "…"}`` with a 4xx or 5xx status.

FastAPI's own refusals (a query that does not fit its schema, a body that cannot be parsed) are
turned into the same shape, and every route lists its refusals in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

REDIS_AWAY = "Redis does not answer right now; try again in a moment."

NEEDS_TOKEN_WHY = "The gateway asks for the API token and the request has none, or a wrong one."
REDIS_AWAY_WHY = "Redis does not answer right now."
NOT_RUNNING_WHY = "The backtest service is not running."
TOO_SLOW_WHY = "The backtest service took longer than QF_BACKTEST_TIMEOUT to answer."


class ErrorAnswer(BaseModel):
    """Every refusal: one plain sentence saying what is wrong."""

    error: str = Field(description="What is wrong, in plain words.")
    code: str | None = Field(
        default=None, description="For a stream request: the same code as stream_error (unknown_asset, …)."
    )


def documented(
    ok: type[BaseModel] | None, why: dict[int, str], guarded: bool = True
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its answer ``ok`` (200) and its refusals, each answered as
    :class:`ErrorAnswer`; ``guarded`` adds the token's 401."""
    out: dict[int | str, dict[str, Any]] = {} if ok is None else {200: {"model": ok}}
    if guarded:
        why = {401: NEEDS_TOKEN_WHY} | why
    out.update({status: {"model": ErrorAnswer, "description": text} for status, text in why.items()})
    return out


def error(status: int, message: str) -> JSONResponse:
    """An error answer."""
    return JSONResponse({"error": message}, status_code=status)


def one_line(exc: RequestValidationError) -> str:
    """The first few problems of a request that does not fit its schema, on one line."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 for a request that does not fit the schema (a ``limit`` out of range, …)."""
    assert isinstance(exc, RequestValidationError)
    return error(422, one_line(exc))


async def refused(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own refusals (no such route, a method it does not take) in the same shape."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
