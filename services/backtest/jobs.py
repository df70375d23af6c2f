"""Backtests as jobs: one request run dataset by dataset, with its progress and a way to stop it.

The same code runs a job of the backtest service (``POST /jobs``) and ``qf backtest`` on this
machine, so both give what ``POST /backtests`` gives for the same request: each dataset goes
through :func:`.runner.execute` (which sends sweeps to :mod:`.sweeps` with a progress callback)
and the results are put together in dataset order.

A job is stopped between datasets and at each progress step of a sweep: the callback raises
:class:`Cancelled`, which unwinds the sweep. :class:`Tally` (pure) turns the steps it hears about
into the figures a client shows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from quantumflux.files import datasets

from . import runner
from .strategies import Strategy

Kind = Literal["backtest", "grid", "walk_forward", "monte_carlo"]
State = Literal["queued", "running", "done", "failed", "cancelled"]
KINDS: tuple[Kind, ...] = ("backtest", "grid", "walk_forward", "monte_carlo")
FINAL: frozenset[str] = frozenset({"done", "failed", "cancelled"})
# Shuffles of a Monte Carlo job that does not say how many (what a trader usually asks for).
DEFAULT_SHUFFLES = 1000


class Cancelled(Exception):
    """The job was asked to stop."""


def for_kind(kind: Kind, request: runner.BacktestRequest) -> runner.BacktestRequest:
    """The request a job of ``kind`` runs: what the kind needs, filled in when left out (pure).

    Raises ``ValueError`` with a plain message when the kind cannot run on the request.
    """
    if kind in ("grid", "walk_forward") and not request.grid:
        raise ValueError(f"a {kind} job needs grid ranges (grid: {{name: 'start:stop:step' or 'a,b,c'}})")
    if kind == "walk_forward" and request.walk_forward is None:
        return request.model_copy(update={"walk_forward": runner.WalkForward()})
    if kind == "monte_carlo" and not request.monte_carlo:
        return request.model_copy(update={"monte_carlo": DEFAULT_SHUFFLES})
    return request


@dataclass
class Tally:
    """What a job has done so far (pure): candles of the datasets run, points of each sweep step.

    ``candles_total`` counts the datasets loaded so far; a sweep step's points are known once it
    starts. ``fraction`` weighs each dataset the same, and a dataset's sweeps by their points.
    """

    datasets_total: int = 1
    datasets_done: int = 0
    candles_total: int = 0
    candles_done: int = 0
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    current: dict[str, tuple[int, int]] = field(default_factory=dict)
    finished: bool = False

    def loaded(self, candles: int) -> None:
        self.candles_total += candles

    def step(self, name: str, done: int, total: int) -> None:
        self.steps[name] = (done, total)
        self.current[name] = (done, total)

    def dataset_done(self, candles: int) -> None:
        self.datasets_done += 1
        self.candles_done += candles
        self.current = {}

    def as_dict(self) -> dict[str, Any]:
        points_done = sum(d for d, _ in self.steps.values())
        points_total = sum(t for _, t in self.steps.values())
        if self.finished:
            fraction = 1.0
        else:
            cur_done = sum(d for d, _ in self.current.values())
            cur_total = sum(t for _, t in self.current.values())
            within = cur_done / cur_total if cur_total else 0.0
            fraction = min(0.999, (self.datasets_done + within) / max(1, self.datasets_total))
        return {
            "candles_done": self.candles_done,
            "candles_total": self.candles_total,
            "points_done": points_done,
            "points_total": points_total,
            "fraction": round(fraction, 4),
        }


class _Loaded(dict[str, Any]):
    """Where :func:`.runner.execute` leaves each dataset's candles: counted, and kept when asked."""

    def __init__(self, tally: Tally, keep: dict[str, Any] | None) -> None:
        super().__init__()
        self.tally = tally
        self.keep = keep
        self.last = 0

    def __setitem__(self, key: str, value: Any) -> None:
        self.last = len(value)
        self.tally.loaded(self.last)
        if self.keep is not None:
            self.keep[key] = value


def run_job(
    request: runner.BacktestRequest,
    resolved: list[datasets.Dataset],
    strategy: Strategy,
    tally: Tally | None = None,
    stop: threading.Event | None = None,
    listener: runner.Progress | None = None,
    max_candles: int | None = None,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What :func:`.runner.execute` answers for ``request``, run dataset by dataset.

    ``tally`` receives the progress, ``listener(step, done, total)`` each step (a terminal's
    progress bars); setting ``stop`` raises :class:`Cancelled` at the next step.
    """
    tally = tally if tally is not None else Tally()
    tally.datasets_total = len(resolved)
    loaded = _Loaded(tally, keep)

    def progress(name: str, done: int, total: int) -> None:
        if stop is not None and stop.is_set():
            raise Cancelled()
        tally.step(name, done, total)
        if listener is not None:
            listener(name, done, total)

    out: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    for ds in resolved:
        if stop is not None and stop.is_set():
            raise Cancelled()
        one = request.model_copy(update={"datasets": [ds.id]})
        answer = runner.execute(one, [ds], strategy, progress, max_candles=max_candles, keep=loaded)
        results += answer.pop("results")
        out = answer
        tally.dataset_done(loaded.last)
    tally.finished = True
    return {**out, "results": results}
