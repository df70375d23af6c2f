"""What every route of the backtest service shares: its counters and the shape of an error answer."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from quantumflux.files.reader import LoadError


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


class ErrorAnswer(BaseModel):
    """Every refusal: one plain sentence saying what is wrong."""

    error: str = Field(description="What is wrong with the request, in plain words.")


def documented(ok: type[BaseModel], why: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: its answer ``ok`` (200) and its refusals, each answered as
    :class:`ErrorAnswer`."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": ok}}
    out.update({status: {"model": ErrorAnswer, "description": text} for status, text in why.items()})
    return out


def error(status: int, message: str) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status)


def one_line(exc: RequestValidationError) -> str:
    """The first few problems of a request that does not fit its schema, on one line."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def load_message(data_dir: Path, exc: LoadError) -> str:
    """``file:line:column: message`` with the file relative to the data folder: an answer never
    shows where that folder is on the machine."""
    rel = exc.path.replace(str(data_dir).rstrip("/") + "/", "")
    return f"{rel}:{exc.line}:{exc.column}: {exc.message}"
