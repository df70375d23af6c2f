"""Live signals speed: closed candles per second through a window, a strategy and a paper book.

Each step is what the signals service does per closed candle and strategy: append to the window,
build the candle frame, run the strategy's signals function on the whole window, take the newest
decision, settle and open paper contracts. The baseline, measured in the same run on the same
candles, is one call of the strategy's signals function on a ready frame of the same window: the
floor of a live step, so the ratio is the cost of the window, the frame and the paper book.

    .venv/bin/python bench/signals.py           # 1 000 steps per case (about half a minute)
    .venv/bin/python bench/signals.py --long    # 5 000 steps per case
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from quantumflux.backtest.strategies import get_strategy
from quantumflux.signals.paper import Paper, Rules
from quantumflux.signals.runner import GAP, Window, decide, frame_of


def walk(n: int, seed: int = 7) -> list[tuple[int, float, float, float, float, int]]:
    """``n`` one-minute candles of a random walk on a 0.00001 price grid."""
    rng = np.random.default_rng(seed)
    close = np.round(1.1 + np.cumsum(rng.integers(-4, 5, n)) * 1e-5, 5)
    return [(1_781_431_200 + 60 * i, float(c), float(c), float(c), float(c), 1) for i, c in enumerate(close)]


def live(rows: list, steps: int, cap: int, name: str) -> float:
    """Seconds per closed candle for the last ``steps`` candles, window ``cap``."""
    strategy = get_strategy(name)
    params = strategy.resolve({})
    w = Window(60, cap)
    paper = Paper(Rules())
    book = paper.book(name, "A", 60, "1m")
    warm = rows[:-steps]
    for r in warm[-cap:]:
        w.add(r)
    t = time.perf_counter()
    for r in rows[-steps:]:
        how = w.add(r)
        paper.on_candle("A", 60, r[0], r[4], how == GAP)
        d, c = decide(strategy, params, w.frame())
        if d:
            paper.on_signal(book, r[0], r[4], d, c, 0.92)
    return (time.perf_counter() - t) / steps


def baseline(rows: list, cap: int, name: str) -> float:
    """Seconds of one signals call on a ready frame of ``cap`` candles (best of 20)."""
    strategy = get_strategy(name)
    params = strategy.resolve({})
    frame = frame_of(rows[-cap:])
    best = float("inf")
    for _ in range(20):
        t = time.perf_counter()
        strategy.signals(frame, **params)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--long", action="store_true", help="5 000 steps per case instead of 1 000")
    args = ap.parse_args()
    steps = 5000 if args.long else 1000
    print(f"Python {platform.python_version()}, {steps} closed candles per case")
    print(
        "| strategy | window | live step (ms per candle) | live candles/s | signals call alone (ms) | ratio step / call |"
    )
    print("|---|---|---|---|---|---|")
    for name in ("sma_cross", "quantum_flux"):
        lookback = get_strategy(name).lookback({})
        for cap in (lookback, 5000):
            rows = walk(cap + steps)
            per = live(rows, steps, cap, name)
            base = baseline(rows, cap, name)
            print(
                f"| {name} | {cap} | {per * 1e3:.3f} | {1 / per:,.0f} | {base * 1e3:.3f} | {per / base:.2f} |"
            )


if __name__ == "__main__":
    main()
