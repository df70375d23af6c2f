"""The backtest service's jobs: a small pool that runs them, and their records on disk.

Each job is kept as ``{data}/.backtests/{id}.json`` (written whole to a temporary file, then
renamed), at every change of state, so the list survives a restart; a job that was queued or
running when the service stopped is listed as failed, since nothing is running it any more. A few
jobs run at once (``workers``), the rest wait their turn; the HTTP server's own threads stay free.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantumflux.files import datasets
from quantumflux.files.layout import iso_utc

from . import runner
from .jobs import FINAL, Cancelled, Kind, State, Tally, run_job
from .strategies import Strategy

log = logging.getLogger("qf.backtest.jobs")

JOBS_FOLDER = ".backtests"
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
STOPPED = "the backtest service stopped before this job finished; submit it again"
# Turns an error of a run into the status and message POST /backtests would answer, or None.
Explain = Callable[[Exception], str | None]


@dataclass
class Job:
    """One job: what was asked, where it stands, and its answer once there is one."""

    id: str
    kind: Kind
    request: dict[str, Any]
    created: float
    state: State = "queued"
    finished: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    tally: Tally = field(default_factory=Tally)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    saved_progress: dict[str, Any] | None = None

    def answer(self, with_result: bool = True) -> dict[str, Any]:
        """``GET /jobs/{id}``'s answer (``GET /jobs`` leaves the result out)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": self.saved_progress or self.tally.as_dict(),
            "created": iso_utc(self.created, millis=True),
            "finished": iso_utc(self.finished, millis=True) if self.finished is not None else None,
            "error": self.error,
            "request": self.request,
        }
        if with_result:
            out["result"] = self.result
        return out

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Job:
        """A job as :meth:`record` kept it."""
        return cls(
            id=rec["id"],
            kind=rec["kind"],
            request=rec["request"],
            created=float(rec["created_time"]),
            state=rec["state"],
            finished=rec.get("finished_time"),
            result=rec.get("result"),
            error=rec.get("error"),
            saved_progress=rec["progress"],
        )

    def record(self) -> dict[str, Any]:
        """What is kept on disk: the answer and the times as numbers."""
        return self.answer() | {"created_time": self.created, "finished_time": self.finished}


class JobBoard:
    """Runs jobs on a bounded pool and keeps their records under ``data_dir``."""

    def __init__(self, data_dir: Path, max_candles: int | None, explain: Explain, workers: int = 2) -> None:
        self.folder = Path(data_dir) / JOBS_FOLDER
        self.max_candles = max_candles
        self.explain = explain
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {job.id: job for job in self._restore()}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qf-job")

    def submit(
        self,
        kind: Kind,
        request: runner.BacktestRequest,
        resolved: list[datasets.Dataset],
        strategy: Strategy,
    ) -> Job:
        """Queue a job whose datasets and strategy are already known to exist."""
        job = Job(uuid.uuid4().hex, kind, request.model_dump(mode="json"), time.time())
        with self.lock:
            self.jobs[job.id] = job
            self._save(job)
        self.pool.submit(self._run, job, request, resolved, strategy)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if there is one (an id of another shape never is)."""
        if not JOB_ID.match(job_id):
            return None
        with self.lock:
            return self.jobs.get(job_id)

    def all(self) -> list[Job]:
        """Every job, the newest first."""
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: (j.created, j.id), reverse=True)

    def cancel(self, job_id: str) -> Job | None:
        """Stop a job: at once when it waits, at its next progress step when it runs."""
        job = self.get(job_id)
        if job is None:
            return None
        with self.lock:
            job.stop.set()
            if job.state == "queued":
                self._end(job, "cancelled")
        return job

    def close(self) -> None:
        """Stop every job (the waiting ones are not started) without waiting for the running ones."""
        with self.lock:
            for job in self.jobs.values():
                job.stop.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(
        self,
        job: Job,
        request: runner.BacktestRequest,
        resolved: list[datasets.Dataset],
        strategy: Strategy,
    ) -> None:
        with self.lock:
            if job.state != "queued":
                return  # cancelled while it waited
            job.state = "running"
            self._save(job)
        try:
            result = run_job(request, resolved, strategy, job.tally, job.stop, max_candles=self.max_candles)
        except Cancelled:
            with self.lock:
                self._end(job, "cancelled")
            return
        except Exception as exc:  # any failure of a run ends its job; the pool goes on
            message = self.explain(exc)
            if message is None:
                log.exception("job %s failed", job.id)
                message = f"the backtest failed: {exc}"
            with self.lock:
                job.error = message
                self._end(job, "failed")
            return
        with self.lock:
            if job.stop.is_set():
                # Asked to stop after its last progress step: the user's cancel still wins.
                self._end(job, "cancelled")
                return
            job.result = result
            self._end(job, "done")

    def _end(self, job: Job, state: State) -> None:
        job.state = state
        job.finished = time.time()
        job.saved_progress = job.tally.as_dict() if state != "done" else None
        self._save(job)

    def _save(self, job: Job) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{job.id}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(job.record()), encoding="utf-8")
            os.replace(tmp, self.folder / f"{job.id}.json")
        except OSError as exc:
            log.warning("cannot keep job %s on disk (%s): it is listed until the service stops", job.id, exc)

    def _restore(self) -> list[Job]:
        found = []
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(".json"))
        except OSError:
            return []
        for name in names:
            try:
                job = Job.from_record(json.loads((self.folder / name).read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("job record %s cannot be read (%s): left out", name, exc)
                continue
            if job.state not in FINAL:
                job.error = STOPPED
                self._end(job, "failed")
            found.append(job)
        return found
