"""Sweeps as many independent tasks: in this process, on a local Dask cluster, or on any scheduler.

A sweep (grid points, walk-forward train scores, Monte Carlo shuffles) is cut into batches; each
batch is one task of :mod:`.sweeps_core`, and results come back in batch order, so the figures
are the same whatever ran them and however many workers there were.

Where the work goes (:func:`pool_for`):

- ``QF_DASK_SCHEDULER`` set (``tcp://host:port``): that scheduler, for every sweep above a few
  points (connecting costs milliseconds);
- otherwise a local cluster of one single-threaded worker process per core, but only when the
  sweep is big enough to pay for starting it (a second or more) and its points compute their
  own signals (a strategy without a kernel: :mod:`.grid_kernels`);
- other sweeps run here, on one thread per core; strategies loaded from a file (the workers may
  not have the file) run here on one thread.

The dataset and its shared indicator series are sent to every worker once
(``client.scatter(..., broadcast=True)``); tasks only carry their points.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import sweeps_core
from .engine import EngineConfig
from .grid_kernels import Dataset, kernel_of, prepare
from .strategies import STRATEGIES, Strategy

Progress = Callable[[int, int], None]

# Points × candles below which a sweep runs here rather than starting a local cluster
# (about a quarter of a second of work: starting worker processes takes longer). Points of a
# strategy with shared indicators (a kernel) always run here: each is a few array passes (about
# 5 ms on a million candles), and starting the workers and copying the indicators to each costs
# more than a second, more than they ever save on two cores (bench/sweeps.py measures both).
IN_PROCESS_WORK = 20_000_000
# A sweep of this many points or fewer never leaves the process, whatever the scheduler.
TINY = 3
# Tasks per worker: a few, so a slow batch does not leave the other workers idle at the end.
TASKS_PER_WORKER = 4


class SchedulerError(ValueError):
    """The configured Dask scheduler cannot be reached; the message names it."""


# Environment of the local cluster's worker processes. Dask's default trims freed memory back to
# the system at 64 KiB, so every array of a grid point (8 MB per million candles) comes from fresh
# pages and a worker runs a point three times slower than this process; arrays up to 32 MB are
# kept on the heap instead. Workers of an external scheduler deserve the same variables.
WORKER_ENVIRON = {
    "MALLOC_MMAP_THRESHOLD_": 32 * 1024 * 1024,
    "MALLOC_TRIM_THRESHOLD_": 256 * 1024 * 1024,
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
}


@dataclass(frozen=True)
class Task:
    """One call of a :mod:`.sweeps_core` function and how many units of progress it is worth."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    weight: int


class Pool(Protocol):
    """Something that runs tasks: this process or a Dask cluster."""

    workers: int

    def share(self, value: Any) -> Any:
        """``value`` made available to every task (sent to each worker once)."""

    def run(self, tasks: Sequence[Task], progress: Progress | None) -> list[Any]:
        """The results of ``tasks`` in their order; ``progress(done, total)`` as each completes."""


class InProcess:
    """Tasks in this process: one after another, or on ``threads`` threads.

    Threads share the dataset without copying it, and the array work of a point (numpy, pandas'
    rolling windows) runs without holding the interpreter lock, so two threads use two cores.
    """

    def __init__(self, threads: int = 1) -> None:
        self.workers = max(1, threads)

    def share(self, value: Any) -> Any:
        return value

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` of each item, in order, on the threads."""
        if self.workers == 1 or len(items) < 2:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(self.workers) as threads:
            return list(threads.map(fn, items))

    def run(self, tasks: Sequence[Task], progress: Progress | None) -> list[Any]:
        total = sum(t.weight for t in tasks)
        out: list[Any] = [None] * len(tasks)
        done = 0
        for k, result in self._finished(tasks):
            out[k] = result
            done += tasks[k].weight
            if progress:
                progress(done, total)
        return out

    def _finished(self, tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """(position, result) of each task as it completes."""
        if self.workers == 1:
            for k, t in enumerate(tasks):
                yield k, t.fn(*t.args)
            return
        threads = ThreadPoolExecutor(self.workers)
        try:
            position = {threads.submit(t.fn, *t.args): k for k, t in enumerate(tasks)}
            for future in as_completed(position):
                yield position[future], future.result()
        finally:
            # A progress callback that stops the sweep (a cancelled job) unwinds through here:
            # batches not started yet are dropped, and the running ones end on their own.
            threads.shutdown(wait=False, cancel_futures=True)


class DaskPool:
    """Tasks on the workers of a Dask client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))

    def share(self, value: Any) -> Any:
        # hash=False: hashing a large dataset to name it would cost more than sending it.
        return self.client.scatter(value, broadcast=True, hash=False)

    def run(self, tasks: Sequence[Task], progress: Progress | None) -> list[Any]:
        from distributed import as_completed as completed

        futures = [self.client.submit(t.fn, *t.args, pure=False) for t in tasks]
        position = {f.key: k for k, f in enumerate(futures)}
        total = sum(t.weight for t in tasks)
        out: list[Any] = [None] * len(tasks)
        done = 0
        for future in completed(futures):  # type: ignore[no-untyped-call]
            k = position[future.key]
            out[k] = future.result()
            done += tasks[k].weight
            if progress:
                progress(done, total)
        return out


@contextmanager
def dask_pool(scheduler: str | None = None, workers: int | None = None) -> Iterator[DaskPool]:
    """A pool on ``scheduler`` (``tcp://host:port``), or on a local cluster started for it.

    The local cluster has ``workers`` single-threaded worker processes (one per core by default)
    and is shut down on leaving.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise SchedulerError(f"Dask scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield DaskPool(client)
        return
    with dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}):
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    try:
        with Client(cluster) as client:  # type: ignore[no-untyped-call]
            yield DaskPool(client)
    finally:
        cluster.close()


def configured_scheduler() -> str | None:
    """The scheduler of the backtest settings (``QF_DASK_SCHEDULER``), None for a local cluster."""
    from .config import BacktestSettings

    return BacktestSettings().dask_scheduler


@contextmanager
def pool_for(points: int, size: int, portable: bool = True, light: bool = False) -> Iterator[Pool]:
    """Where a sweep of ``points`` units of ``size`` (candles or trades) each should run.

    ``portable`` is False for work a worker process cannot redo (a strategy loaded from a file);
    that work runs here on one thread (a user's code may keep state between calls). ``light``
    points (a strategy with a kernel) never start a local cluster.
    """
    scheduler = configured_scheduler() if portable and points > TINY else None
    if scheduler:
        with dask_pool(scheduler) as remote:
            yield remote
    elif portable and not light and points > TINY and points * size > IN_PROCESS_WORK:
        with dask_pool() as local:
            yield local
    else:
        yield InProcess(os.cpu_count() or 1 if portable else 1)


def batches(items: Sequence[Any], workers: int) -> list[Sequence[Any]]:
    """``items`` cut into consecutive batches, a few per worker."""
    if not items:
        return []
    size = max(1, math.ceil(len(items) / (workers * TASKS_PER_WORKER)))
    return [items[k : k + size] for k in range(0, len(items), size)]


@contextmanager
def _pool(given: Pool | None, points: int, size: int, portable: bool, light: bool = False) -> Iterator[Pool]:
    if given is not None:
        yield given if portable else InProcess()
        return
    with pool_for(points, size, portable, light) as chosen:
        yield chosen


def _prepare(
    candles: pd.DataFrame,
    strategy: Strategy,
    points: Sequence[dict[str, Any]],
    config: EngineConfig,
    timeframe: int | None,
) -> Dataset:
    """The shared series of a sweep, computed on one thread per core here (they are independent)."""
    threads = InProcess(os.cpu_count() or 1)
    return prepare(candles, strategy, list(points), config.expiry, threads.map, timeframe)


def _ref(strategy: Strategy) -> Strategy | str:
    """A built-in strategy by name (a worker looks it up), any other as itself (run here)."""
    return strategy.name if STRATEGIES.get(strategy.name) is strategy else strategy


def grid_scores(
    candles: pd.DataFrame,
    strategy: Strategy,
    points: Sequence[dict[str, Any]],
    config: EngineConfig,
    timeframe: int | None,
    metric: str,
    pool: Pool | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """The headline figures of every grid point (resolved parameters), in the order given."""
    if not points:
        return []
    ref = _ref(strategy)
    light = kernel_of(strategy) is not None
    with _pool(pool, len(points), len(candles), isinstance(ref, str), light) as p:
        data = p.share(_prepare(candles, strategy, points, config, timeframe))
        tasks = [
            Task(sweeps_core.score_points, (data, ref, part, config, timeframe, metric), len(part))
            for part in batches(points, p.workers)
        ]
        return [row for part in p.run(tasks, progress) for row in part]


def window_scores(
    candles: pd.DataFrame,
    strategy: Strategy,
    points: Sequence[dict[str, Any]],
    config: EngineConfig,
    timeframe: int | None,
    metric: str,
    windows: Sequence[tuple[int, int]],
    pool: Pool | None = None,
    progress: Progress | None = None,
) -> list[list[Any]]:
    """For every point, its ``metric`` on each window ``(start, stop)`` of candles."""
    if not points:
        return []
    ref = _ref(strategy)
    size = len(candles) * max(1, len(windows))
    with _pool(pool, len(points), size, isinstance(ref, str), kernel_of(strategy) is not None) as p:
        data = p.share(_prepare(candles, strategy, points, config, timeframe))
        tasks = [
            Task(sweeps_core.score_windows, (data, ref, part, config, timeframe, metric, windows), len(part))
            for part in batches(points, p.workers)
        ]
        return [row for part in p.run(tasks, progress) for row in part]


def shuffles(
    ret: np.ndarray,
    stake: float | None,
    config: EngineConfig,
    runs: int,
    seed: int,
    ruin: float,
    pool: Pool | None = None,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Worst drawdown, last balance and ruin of ``runs`` shuffled orders of per-trade returns."""
    n = max(1, len(ret))
    with _pool(pool, runs, n, True) as p:
        size = max(sweeps_core.SHUFFLE_BLOCK // n, math.ceil(runs / (p.workers * TASKS_PER_WORKER)))
        tasks = [
            Task(
                sweeps_core.shuffle_paths,
                (ret, stake, config, seed, a, min(size, runs - a), ruin),
                min(size, runs - a),
            )
            for a in range(0, runs, size)
        ]
        parts = p.run(tasks, progress)
    return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
