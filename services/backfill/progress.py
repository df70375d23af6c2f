"""How a backfill shows its progress: a bar per series on the terminal, or JSON lines for a
program that runs it (the gateway, for the web app's "Get history")."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from quantumflux.backfill import pager
from quantumflux.backfill.pager import Progress as Done
from quantumflux.backfill.worker import Job, Report
from quantumflux.bus.timeframes import label
from quantumflux.files.collect import collected_times


class ProgressView:
    """One bar per series (asset and timeframe), on stderr so the summary on stdout stays clean."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pages  {task.fields[rate]:>7.0f} candles/s  {task.fields[left]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[tuple[str, int], TaskID] = {}

    def __enter__(self) -> ProgressView:
        self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.stop()

    def update(self, job: Job, done: Done) -> None:
        """Show where one series stands."""
        now = time.monotonic()
        left = done.left(now)
        rate, remaining = done.rate(now), "" if left is None else f"{_clock(left)} left"
        key = (job.asset, job.period)
        task = self._tasks.get(key)
        if task is None:
            name = f"{job.asset} {label(job.period)}"
            task = self._tasks[key] = self._bar.add_task(
                name, total=max(done.pages_planned, 1), rate=rate, left=remaining
            )
        self._bar.update(
            task, completed=done.pages_done if done.pages_planned else 1, rate=rate, left=remaining
        )


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class JsonProgress:
    """One JSON line per page on stdout: ``{asset, timeframe, state, candles, pages, pages_planned,
    reached, error}``, ``reached`` the oldest candle time held so far; a last line per series says
    ``done`` or ``failed``."""

    def __init__(self, data_dir: str | os.PathLike[str], out: TextIO | None = None) -> None:
        self.data_dir = data_dir
        self.out = out or sys.stdout
        # Per series: the oldest time held before the run, and the run's windows, newest first
        # (planned as the worker plans them, from the same files).
        self._plans: dict[tuple[str, int], tuple[int | None, list[pager.Window]]] = {}

    def __enter__(self) -> JsonProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.out.flush()

    def update(self, job: Job, done: Done) -> None:
        """Say where one series stands."""
        key = (job.asset, job.period)
        if key not in self._plans or done.pages_done == 0:
            held = collected_times(self.data_dir, job.asset, job.period)
            plan = pager.windows(job.asset, job.period, job.first, job.newest, held)
            self._plans[key] = (min(held, default=None), plan)
        oldest, plan = self._plans[key]
        asked = plan[min(done.pages_done, len(plan)) - 1].oldest if done.pages_done and plan else None
        reached = min((t for t in (oldest, asked) if t is not None), default=None)
        self._line(job, "running", done.candles, done.pages_done, done.pages_planned, reached)

    def finish(self, jobs: Sequence[Job], report: Report | None, error: str | None = None) -> None:
        """The last line of every series: what it holds now, and whether it failed."""
        for job in jobs:
            why = error if report is None else report.failed.get(job.asset)
            held = collected_times(self.data_dir, job.asset, job.period)
            written = 0 if report is None else report.written.get(f"{job.asset}-{job.period}", 0)
            pages = 0 if report is None else report.pages
            state = "failed" if why else "done"
            self._line(job, state, written, pages, pages, min(held, default=None), why)

    def _line(
        self,
        job: Job,
        state: str,
        candles: int,
        pages: int,
        planned: int,
        reached: int | None,
        error: str | None = None,
    ) -> None:
        line: dict[str, Any] = {
            "asset": job.asset,
            "timeframe": label(job.period),
            "state": state,
            "candles": candles,
            "pages": pages,
            "pages_planned": planned,
            "reached": reached,
            "error": error,
        }
        self.out.write(json.dumps(line) + "\n")
        self.out.flush()
