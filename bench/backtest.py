"""Backtest speed: sma_cross and quantum_flux on 1 000 000 one-minute candles, a 100-point grid
sweep, and backtesting.py running the same SMA-cross entries with a one-candle exit, measured in
the same run on the same data. bench/sweeps.py measures grids on Dask workers and beside vectorbt.

    .venv/bin/python bench/backtest.py            # 1 000 000 candles, backtesting.py on a 200 000-candle slice
    .venv/bin/python bench/backtest.py --quick    # 100 000 candles (a few seconds)

backtesting.py runs candle by candle in Python; a full 1M run of it takes long on a small machine, so by default
it runs on the first ``--slice`` candles (200 000 by default; ``--slice 1000000`` for all) and its time is scaled linearly to the full size (its
cost per candle is flat: one ``next()`` call per candle). The figure printed says so.
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from quantumflux.backtest import analysis, engine, sweeps
from quantumflux.backtest.strategies import get_strategy


def make_candles(n: int, seed: int = 7) -> pd.DataFrame:
    """A random walk of one-minute candles on a 0.00001 price grid."""
    rng = np.random.default_rng(seed)
    close = np.round(1.1 + np.cumsum(rng.integers(-4, 5, n)) * 1e-5, 5)
    open_ = np.concatenate(([close[0]], close[:-1]))
    wick = rng.integers(0, 3, n) * 1e-5
    return pd.DataFrame(
        {
            "time": 1_781_431_200 + 60 * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": np.maximum(open_, close) + wick,
            "low": np.minimum(open_, close) - wick,
            "close": close,
            "ticks": np.ones(n, np.int64),
        }
    )


def full_run(
    candles: pd.DataFrame, name: str, params: dict[str, Any], cfg: engine.EngineConfig
) -> tuple[float, int]:
    """Best of five after a warm-up run: signals + contracts + every metric; (seconds, trades)."""
    strategy = get_strategy(name)
    analysis.run_one(candles, strategy, params, cfg, 60)
    best = float("inf")
    trades = 0
    for _ in range(5):
        t = time.perf_counter()
        _, m = analysis.run_one(candles, strategy, params, cfg, 60)
        best = min(best, time.perf_counter() - t)
        trades = m["trades"]
    return best, trades


def backtesting_py(candles: pd.DataFrame, fast: int, slow: int) -> tuple[float, int]:
    """backtesting.py: SMA-cross entries at the close, every position closed one candle later."""
    from backtesting import Backtest, Strategy

    def sma(values: np.ndarray, n: int) -> np.ndarray:
        return np.asarray(pd.Series(values).rolling(n).mean(), dtype=np.float64)

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def side(self, k: int) -> int:
            # The same rule as sma_cross: equal within 1e-10 of the price is equal.
            diff = self.fast[k] - self.slow[k]
            tol = 1e-10 * self.data.Close[k]
            return 1 if diff > tol else -1 if diff < -tol else 0

        def next(self) -> None:
            if self.position:
                self.position.close()
            if len(self.data) < slow + 1:
                return
            now, before = self.side(-1), self.side(-2)
            if now == 1 and before <= 0:
                self.buy(size=1)
            elif now == -1 and before >= 0:
                self.sell(size=1)

    data = pd.DataFrame(
        {
            "Open": candles["open"].to_numpy(),
            "High": candles["high"].to_numpy(),
            "Low": candles["low"].to_numpy(),
            "Close": candles["close"].to_numpy(),
            "Volume": candles["ticks"].to_numpy(),
        },
        index=pd.to_datetime(candles["time"].to_numpy(), unit="s"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = Backtest(data, SmaCross, cash=1_000_000, trade_on_close=True, finalize_trades=True)
        t = time.perf_counter()
        stats = bt.run()
        took = time.perf_counter() - t
    return took, int(stats["# Trades"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument(
        "--slice", type=int, default=200_000, help="candles given to backtesting.py (scaled to the full size)"
    )
    ap.add_argument("--quick", action="store_true", help="100 000 candles")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.candles
    cfg = engine.EngineConfig()
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"
    )
    t = time.perf_counter()
    candles = make_candles(n)
    print(f"{n:,} one-minute candles made in {time.perf_counter() - t:.2f} s")

    sma_s, sma_trades = full_run(candles, "sma_cross", {"fast": 5, "slow": 20}, cfg)
    print(f"sma_cross    : {sma_s:.3f} s for {n:,} candles ({sma_trades:,} trades)  target ≤ 0.5 s at 1M")
    qf_s, qf_trades = full_run(candles, "quantum_flux", {}, cfg)
    print(f"quantum_flux : {qf_s:.3f} s for {n:,} candles ({qf_trades:,} trades)  target ≤ 1 s at 1M")

    m = min(args.slice, n)
    part = candles.iloc[:m].reset_index(drop=True)
    bt_s, bt_trades = backtesting_py(part, 5, 20)
    if m < n:
        ours_part, ours_trades = full_run(part, "sma_cross", {"fast": 5, "slow": 20}, cfg)
        scaled = bt_s * n / m
        print(
            f"backtesting.py: {bt_s:.2f} s for the first {m:,} candles ({bt_trades:,} trades; ours {ours_trades:,}), "
            f"scaled to {n:,}: {scaled:.1f} s"
        )
        print(
            f"ratio        : backtesting.py / sma_cross = {scaled / sma_s:,.0f}× at {n:,} candles (scaled) "
            f"and {bt_s / ours_part:,.0f}× measured on the same {m:,} candles  target ≥ 50×"
        )
    else:
        print(
            f"backtesting.py: {bt_s:.2f} s for all {n:,} candles ({bt_trades:,} trades; ours {sma_trades:,})"
        )
        print(
            f"ratio        : backtesting.py / sma_cross = {bt_s / sma_s:,.0f}× at {n:,} candles  target ≥ 50×"
        )

    ranges = {"fast": list(range(1, 11)), "slow": list(range(11, 21))}
    t = time.perf_counter()
    out = analysis.grid(
        candles, get_strategy("sma_cross"), {}, ranges, cfg, 60, "net_profit", pool=sweeps.InProcess()
    )
    grid_s = time.perf_counter() - t
    print(
        f"grid sweep   : {len(out['rows'])} points of sma_cross in {grid_s:.2f} s on {n:,} candles, one process"
        "  target ≤ 1 s at 1M (bench/sweeps.py: on Dask workers and beside vectorbt)"
    )


if __name__ == "__main__":
    main()
