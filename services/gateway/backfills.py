"""History on demand from the web app: ``qf backfill`` run as a child, its progress relayed.

The gateway never opens Chrome itself: the child pages history through the trader's own page, as
``qf backfill`` does on the command line, and writes one JSON line per page (``--progress-json``).
:func:`advance` folds such a line into a :class:`BackfillRun` (pure); :class:`BackfillDesk` is the
shell that starts the children, reads their lines and tells every browser.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from quantumflux.bus.process import die_with_parent
from quantumflux.bus.timeframes import label
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.rooms import Stream

log = logging.getLogger(__name__)

STATES = ("running", "done", "failed")
ERROR_TAIL = 20  # lines of the child's stderr kept to say why it failed


@dataclass(frozen=True, slots=True)
class BackfillRun:
    """Where one backfill stands: ``reached`` is the oldest candle time held so far (UTC seconds)."""

    asset: str
    tf: int
    days: float
    state: str = "running"
    candles: int = 0
    pages: int = 0
    pages_planned: int = 0
    reached: int | None = None
    error: str | None = None

    def payload(self) -> dict[str, Any]:
        """What ``backfill_progress`` and ``POST /api/backfill`` carry."""
        return {
            "asset": self.asset,
            "timeframe": label(self.tf),
            "days": self.days,
            "state": self.state,
            "candles": self.candles,
            "pages": self.pages,
            "pages_planned": self.pages_planned,
            "reached": self.reached,
            "error": self.error,
        }


def advance(run: BackfillRun, line: dict[str, Any]) -> BackfillRun:
    """``run`` after one progress line of the child; lines of another series change nothing."""
    if line.get("asset") != run.asset or line.get("timeframe") != label(run.tf):
        return run
    said = line.get("state")
    state = said if isinstance(said, str) and said in STATES else run.state
    reached = line.get("reached")
    if not isinstance(reached, int) or (run.reached is not None and reached > run.reached):
        reached = run.reached
    return replace(
        run,
        state=state,
        candles=_count(line.get("candles"), run.candles),
        pages=_count(line.get("pages"), run.pages),
        pages_planned=_count(line.get("pages_planned"), run.pages_planned),
        reached=reached,
        error=line.get("error") if isinstance(line.get("error"), str) else run.error,
    )


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def ended(run: BackfillRun, returncode: int, stderr_tail: list[str]) -> BackfillRun:
    """``run`` once its child has exited: a child that said nothing of its end failed or finished
    by its exit status."""
    if run.state != "running":
        return run
    if returncode == 0:
        return replace(run, state="done")
    why = stderr_tail[-1] if stderr_tail else f"the backfill stopped with exit status {returncode}"
    return replace(run, state="failed", error=why)


def command(stream: Stream, days: float) -> list[str]:
    """The child's command line: ``qf backfill`` for one asset and timeframe, JSON progress."""
    return [
        sys.executable, "-m", "quantumflux.qf", "backfill", stream.asset,
        "--timeframe", stream.timeframe, "--days", repr(days), "--progress-json",
    ]  # fmt: skip


def child_env(settings: GatewaySettings) -> dict[str, str]:
    """The gateway's environment, with the bus and data folder it uses itself."""
    return os.environ | {
        "QF_REDIS_URL": settings.redis_url,
        "QF_PREFIX": settings.prefix,
        "QF_DATA_DIR": str(Path(settings.data_dir).resolve()),
    }


def _read_line(raw: bytes) -> dict[str, Any] | None:
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    return line if isinstance(line, dict) else None


class BackfillDesk:
    """One backfill at a time per asset and timeframe, each a child process."""

    def __init__(self, settings: GatewaySettings, tell: Callable[[dict[str, Any]], None]) -> None:
        self.settings = settings
        self.tell = tell
        self.runs: dict[Stream, BackfillRun] = {}
        self._children: dict[Stream, asyncio.subprocess.Process] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def running(self, stream: Stream) -> BackfillRun | None:
        """The backfill of ``stream`` that runs now, if any."""
        run = self.runs.get(stream)
        return run if run is not None and run.state == "running" else None

    async def start(self, stream: Stream, days: float) -> BackfillRun:
        """Start a backfill of ``stream`` (the caller checked none runs) and say so to every browser."""
        run = self.runs[stream] = BackfillRun(stream.asset, stream.tf, days)  # taken before any await
        try:
            child = await asyncio.create_subprocess_exec(
                *command(stream, days),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=child_env(self.settings),
                preexec_fn=lambda: die_with_parent(signal.SIGTERM),
            )
        except OSError as exc:
            run = self.runs[stream] = replace(
                run, state="failed", error=f"could not start the backfill: {exc}"
            )
            self.tell(run.payload())
            return run
        self._children[stream] = child
        task = asyncio.create_task(self._follow(stream, child))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.tell(run.payload())
        return run

    async def _follow(self, stream: Stream, child: asyncio.subprocess.Process) -> None:
        assert child.stdout is not None and child.stderr is not None
        tail: collections.deque[str] = collections.deque(maxlen=ERROR_TAIL)
        errors = asyncio.create_task(self._collect(child.stderr, tail))
        async for raw in child.stdout:
            line = _read_line(raw)
            if line is None:
                continue
            run = self.runs[stream] = advance(self.runs[stream], line)
            self.tell(run.payload())
        code = await child.wait()
        await errors
        self._children.pop(stream, None)
        before = self.runs[stream]
        run = self.runs[stream] = ended(before, code, list(tail))
        if run.state == "failed":
            log.warning("backfill of %s %s failed: %s", stream.asset, stream.timeframe, run.error)
        if run != before:
            self.tell(run.payload())

    @staticmethod
    async def _collect(pipe: asyncio.StreamReader, tail: collections.deque[str]) -> None:
        async for raw in pipe:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                tail.append(text)

    async def stop(self) -> None:
        """End every child (what each wrote is kept: a backfill resumes where it stopped)."""
        for child in list(self._children.values()):
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        for task in list(self._tasks):
            task.cancel()
        for child in list(self._children.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.wait(), 5)
