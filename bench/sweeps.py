"""Sweep speed: the 100-point sma_cross grid on 1 000 000 one-minute candles in this process (one
thread, then one per core, then where ``qf backtest --grid`` and the jobs service run it: the pool
chosen for its size) and on 1, 2 and 4 Dask worker processes, and QuantumFlux's binary engine
beside vectorbt's ``Portfolio.from_signals`` (the same entries, each position closed one candle
later) for one backtest and for the grid, all measured in the same run on the same data.

    .venv/bin/python bench/sweeps.py            # 1 000 000 candles
    .venv/bin/python bench/sweeps.py --quick    # 100 000 candles

Times are the best of ``--repeat`` runs after a warm-up (vectorbt compiles its loops on first use).
A grid on Dask includes preparing the shared indicators, sending them to every worker and the
tasks; starting the cluster is shown apart. Ratios above 1 mean QuantumFlux is faster.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from backtest import make_candles

from quantumflux.backtest import analysis, engine, metrics, sweeps
from quantumflux.backtest.grid_kernels import prepare, signals_of
from quantumflux.backtest.strategies import get_strategy

RANGES = {"fast": list(range(1, 11)), "slow": list(range(11, 21))}


def best_of(repeat: int, fn: Callable[[], Any], warm_up: bool = True) -> tuple[float, Any]:
    """Seconds of the fastest of ``repeat`` calls (after one warm-up call), and the last result."""
    out = fn() if warm_up else None
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def grid(candles: pd.DataFrame, cfg: engine.EngineConfig, pool: sweeps.Pool | None) -> dict[str, Any]:
    """The grid on ``pool``; None lets the sweep choose, as every caller of ``analysis.grid`` does."""
    return analysis.grid(candles, get_strategy("sma_cross"), {}, RANGES, cfg, 60, "net_profit", pool=pool)


def dask_grids(candles: pd.DataFrame, cfg: engine.EngineConfig, repeat: int, in_process: float) -> None:
    one = None
    for workers in (1, 2, 4):
        t = time.perf_counter()
        with sweeps.dask_pool(workers=workers) as pool:
            started = time.perf_counter() - t
            took, out = best_of(repeat, functools.partial(grid, candles, cfg, pool))
        one = one or took
        print(
            f"grid on Dask, {workers} worker{'s' if workers > 1 else ' '}: {took:.3f} s "
            f"(speed-up vs 1 worker {one / took:.2f}×, vs in-process {in_process / took:.2f}×; "
            f"cluster start {started:.1f} s, {len(out['rows'])} points)"
        )


def entries(candles: pd.DataFrame, points: list[dict[str, Any]]) -> list[np.ndarray]:
    """The sma_cross direction of each point, as QuantumFlux computes it."""
    strategy = get_strategy("sma_cross")
    data = prepare(candles, strategy, points, 1)
    return [signals_of(data, strategy, p).direction for p in points]


def vectorbt_run(close: pd.Series, direction: np.ndarray) -> tuple[Any, ...]:
    """vectorbt: long on a call, short on a put, each closed at the next candle's close."""
    import vectorbt as vbt

    long_in, short_in = direction == 1, direction == -1
    long_out, short_out = np.zeros_like(long_in), np.zeros_like(short_in)
    long_out[1:] = long_in[:-1]
    short_out[1:] = short_in[:-1]
    pf = vbt.Portfolio.from_signals(
        close,
        entries=long_in,
        exits=long_out,
        short_entries=short_in,
        short_exits=short_out,
        size=1.0,
        init_cash=1_000_000.0,
    )
    return pf.total_profit(), pf.trades.count()


def ours_run(candles: pd.DataFrame, direction: np.ndarray, cfg: engine.EngineConfig) -> int:
    """QuantumFlux: the contracts of the same directions and every metric."""
    trades = engine.run(
        candles["time"].to_numpy(), candles["close"].to_numpy(), direction, (direction != 0) * 1.0, cfg, 60
    )
    return int(metrics.compute(trades, cfg)["trades"])


def versus_vectorbt(candles: pd.DataFrame, cfg: engine.EngineConfig, repeat: int, ours_grid: float) -> None:
    try:
        import vectorbt  # noqa: F401
    except ImportError as exc:
        print(f"vectorbt      : not installed here ({exc}); skipped")
        return
    close = pd.Series(candles["close"].to_numpy(), index=pd.to_datetime(candles["time"], unit="s"))
    points = [{"fast": f, "slow": s} for f in RANGES["fast"] for s in RANGES["slow"]]
    dirs = entries(candles, points)
    one = dirs[points.index({"fast": 5, "slow": 20})]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vbt_one, (_, vbt_trades) = best_of(repeat, lambda: vectorbt_run(close, one))
        ours_one, our_trades = best_of(repeat, lambda: ours_run(candles, one, cfg))
        print(
            f"one backtest  : vectorbt from_signals {vbt_one:.3f} s ({vbt_trades:,} trades), "
            f"QuantumFlux engine + metrics {ours_one:.3f} s ({our_trades:,} contracts): "
            f"vectorbt / QuantumFlux = {vbt_one / ours_one:.1f}×"
        )
        # Compiled above on the one backtest; a 100-column run of 1M candles is long, so timed once.
        stacked = np.stack(dirs, axis=1)
        vbt_grid, _ = best_of(1, lambda: vectorbt_run(close, stacked), warm_up=False)
    print(
        f"100-point grid: vectorbt from_signals on 100 columns {vbt_grid:.3f} s (entries given), "
        f"QuantumFlux grid in-process {ours_grid:.3f} s (signals included): "
        f"vectorbt / QuantumFlux = {vbt_grid / ours_grid:.1f}×"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100 000 candles")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each figure (best is shown)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask figures")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.candles
    cfg = engine.EngineConfig()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}; load average {os.getloadavg()[0]:.1f} "
        "(other work on the machine slows every figure)"
    )
    candles = make_candles(n)
    cpu = time.process_time()
    in_process, out = best_of(args.repeat, lambda: grid(candles, cfg, sweeps.InProcess()))
    cpu = (time.process_time() - cpu) / (args.repeat + 1)
    print(
        f"grid in-process : {in_process:.3f} s for {len(out['rows'])} points of sma_cross on {n:,} candles "
        f"({cpu:.3f} s CPU per grid)  target ≤ 1 s at 1M"
    )
    cores = os.cpu_count() or 1
    threaded, _ = best_of(args.repeat, lambda: grid(candles, cfg, sweeps.InProcess(threads=cores)))
    print(f"grid in-process, {cores} threads: {threaded:.3f} s ({in_process / threaded:.2f}× one thread)")
    chosen, _ = best_of(args.repeat, lambda: grid(candles, cfg, None))
    print(f"grid as qf backtest runs it (pool chosen by the sweep): {chosen:.3f} s")
    if not args.no_dask:
        dask_grids(candles, cfg, args.repeat, in_process)
    versus_vectorbt(candles, cfg, args.repeat, in_process)


if __name__ == "__main__":
    main()
