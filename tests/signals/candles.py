"""Candles for the signals tests, computed here independently of the services."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

BROKER_OFFSET = 7200


def random_walk(
    n: int, seed: int, start_time: int = 1_790_000_000 // 60 * 60, tf: int = 60, gaps: tuple[int, ...] = ()
) -> list[tuple[int, float, float, float, float, int]]:
    """``n`` candles of a seeded random walk at ``tf``; after each index in ``gaps`` 3 candles are missing."""
    rng = random.Random(seed)
    price = 1.1
    out = []
    t = start_time
    for i in range(n):
        o = price
        hi = lo = o
        for _ in range(6):
            price = round(price + rng.gauss(0, 0.0002), 5)
            hi, lo = max(hi, price), min(lo, price)
        out.append((t, o, hi, lo, price, 6))
        t += tf * (4 if i in gaps else 1)
    return out


def real_candles(po_data: Path, tf: int = 60) -> list[tuple[int, float, float, float, float, int]]:
    """The real GBPUSD_otc ticks (both files), moved to UTC, as ``tf`` candles (first tick opens)."""
    ticks: list[tuple[float, float]] = []
    for name in ("po-gbpusd-otc-ticks-2026-06-a.json", "po-gbpusd-otc-ticks-2026-06-b.json"):
        ticks += [(float(t) - BROKER_OFFSET, float(p)) for t, p in json.loads((po_data / name).read_text())]
    ticks.sort()
    buckets: dict[int, list[float]] = {}
    for ts, price in ticks:
        buckets.setdefault(math.floor(ts / tf) * tf, []).append(price)
    return [(t, ps[0], max(ps), min(ps), ps[-1], len(ps)) for t, ps in sorted(buckets.items())]
