"""The simulated market before the simulator started: ticks of any past minute, on demand (pure).

The live walk (services/sim/feed.py) starts about 15 minutes before the simulator does and runs
forward from a known price. Paging history asks for days before that, so the time before the walk
is built minute by minute instead: each minute's ticks come from a random generator seeded by
(seed, asset, minute) alone, and its prices run from that minute's level to the next one's. A
minute's level is a smooth function of time plus a little noise per minute, so any window can be
computed without the days in between, and the same inputs always give the same ticks.

The last minute before the walk ends one step before the walk's first tick, at its price, so the
past joins the live path without a jump. Prices are handled in whole 1e-5 units (the broker's
5 decimals) so that rounding never drifts.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

MINUTE = 60
PIP = 100_000  # prices are kept as whole 1e-5 units
# How far the level wanders, as a share of the price: hour to hour, and minute to minute.
HOUR_SWING = 0.003
MINUTE_SWING = 0.0003


@dataclass(frozen=True, slots=True)
class Junction:
    """Where the past meets the live walk: its first tick (UTC) and price, and the tick spacing."""

    seed: int
    asset: str
    ts: float
    price: float
    spacing: float


def _gauss(*key: object) -> float:
    return random.Random(":".join(map(str, key))).gauss(0.0, 1.0)


def _level(j: Junction, minute: int) -> float:
    """The path's level at the start of a minute, relative to the price at the junction (in pips)."""
    hour, into = divmod(minute, 60)
    a = _gauss(j.seed, j.asset, "hour", hour)
    b = _gauss(j.seed, j.asset, "hour", hour + 1)
    smooth = a + (b - a) * (1 - math.cos(math.pi * into / 60)) / 2
    noise = _gauss(j.seed, j.asset, "minute", minute)
    return (smooth * HOUR_SWING + noise * MINUTE_SWING) * j.price * PIP


def _anchor(j: Junction, minute: int) -> int:
    """The price at the start of a minute (pips); the minute after the junction's is the junction."""
    last = math.floor(j.ts / MINUTE)
    if minute > last:
        return round(j.price * PIP)
    return round(j.price * PIP + _level(j, minute) - _level(j, last + 1))


def _times(rng: random.Random, start: float, stop: float, s: float) -> list[tuple[float, bool]]:
    """Tick times in [start, stop) like the live walk's, each with whether it repeats the price."""
    out: list[tuple[float, bool]] = []
    base = start + rng.uniform(0.0, s)
    ts = base
    extra = False
    while (shown := round(ts, 3)) < stop:
        # Compared after rounding: a tick shown at the next minute's first instant would belong
        # to two minutes, and a page starting there would miss it while a longer window would not.
        out.append((shown, extra))
        if not extra and rng.random() < 1 / 8:
            # the extra tick every few seconds, a fraction of a step later at the same price
            extra = True
            ts += rng.uniform(0.4, 0.6) * s
        else:
            extra = False
            r = rng.random()
            base += s * (0.8 if r < 0.04 else 1.2 if r < 0.08 else 1.4 if r < 0.11 else 1.0)
            ts = max(base + max(-0.07 * s, min(0.07 * s, rng.gauss(0, 0.02 * s))), ts + 0.001)
    return out


def _step(rng: random.Random) -> int:
    if rng.random() < 0.19:
        return 0
    size = rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 8))
    return size if rng.random() < 0.5 else -size


@lru_cache(maxsize=256)  # neighbouring pages share a minute; a page is ~150 minutes
def minute_ticks(j: Junction, minute: int) -> tuple[tuple[float, float], ...]:
    """The ticks ``(UTC time, price)`` of one minute before the junction, in time order."""
    start = minute * MINUTE
    stop = min(start + MINUTE, j.ts - 0.4 * j.spacing)
    if stop <= start:
        return ()
    rng = random.Random(f"{j.seed}:{j.asset}:past:{minute}")
    times = _times(rng, start, stop, j.spacing)
    walk = [0]
    for _ts, extra in times[1:]:
        walk.append(walk[-1] if extra else walk[-1] + _step(rng))
    begin, end = _anchor(j, minute), _anchor(j, minute + 1)
    # A bridge: the walk's own wiggles, tilted so the minute ends where the next one begins.
    moving = sum(1 for _ts, extra in times if not extra)
    tilt = end - begin - walk[-1]
    out = []
    seen = 0
    for (ts, extra), w in zip(times, walk, strict=True):
        if not extra:
            seen += 1
        out.append((ts, (begin + w + round(tilt * seen / (moving + 1))) / PIP))
    return tuple(out)


def past_ticks(j: Junction, lo: float, hi: float) -> list[tuple[float, float]]:
    """Every past tick with ``lo <= time < hi`` (UTC), stopping at the junction."""
    hi = min(hi, j.ts)
    out: list[tuple[float, float]] = []
    for minute in range(math.floor(lo / MINUTE), math.ceil(hi / MINUTE)):
        out += [t for t in minute_ticks(j, minute) if lo <= t[0] < hi]
    return out
