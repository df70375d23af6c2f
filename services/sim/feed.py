"""The simulated broker's market: seeded random-walk ticks and the broker's event bodies (pure).

Nothing here reads a clock or touches the network: the caller says what time it is. The same
seed, assets, rate and start time give the same ticks, to the millisecond and the last digit.

Timing follows the real captures (protocol notes §7): a tick about every 0.5 s per asset with a
few milliseconds of jitter, sometimes 0.4/0.6/0.7 s, and about every 3 s an extra tick 0.2-0.3 s
after the previous one repeating its price (every 4-5 s in the real files). Prices have 5 decimals; about 72 % of ticks move.
Broker times run +7200 s ahead of UTC, like the real broker's.

``steady`` drops the jitter and the extra ticks: one tick every ``1/rate`` s, a tenth of a
spacing before each whole multiple of the spacing (at 1 tick/s: on every ``k + 0.9`` s). A
candle of whole seconds then closes on a known last tick, and an order placed within 0.9 s of
its close opens at that close's price and, with an expiry of whole candles, settles at the close
of its expiry candle: orders can be compared with paper trading to the cent.
"""

from __future__ import annotations

import base64
import bisect
import json
import random
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantumflux.ingest.frames import Frame
from quantumflux.sim.path import Junction, past_ticks

BROKER_OFFSET = 7200
HISTORY_SECONDS = 900.0
MAX_HISTORY_TICKS = 2000
# How far back paged history reaches before the simulator started (a two-day backfill fits).
PAST_DAYS = 7

# asset, label, start price, id
KNOWN_ASSETS: tuple[tuple[str, str, float, int], ...] = (
    ("EURUSD_otc", "EUR/USD OTC", 1.08452, 66),
    ("GBPUSD_otc", "GBP/USD OTC", 1.33319, 86),
    ("AUDCAD_otc", "AUD/CAD OTC", 0.89163, 67),
    ("AUDUSD_otc", "AUD/USD OTC", 0.70396, 71),
    ("AUDNZD_otc", "AUD/NZD OTC", 1.08567, 70),
    ("EURGBP_otc", "EUR/GBP OTC", 0.84512, 74),
    ("USDCAD_otc", "USD/CAD OTC", 1.37021, 91),
    ("USDCHF_otc", "USD/CHF OTC", 0.79434, 92),
    ("EURCHF_otc", "EUR/CHF OTC", 0.92029, 73),
    ("NZDUSD_otc", "NZD/USD OTC", 0.59127, 90),
    ("EURNZD_otc", "EUR/NZD OTC", 0.61749, 77),
    ("GBPAUD_otc", "GBP/AUD OTC", 1.90455, 84),
)
TIMEFRAMES = (5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600, 14400)


@dataclass(frozen=True, slots=True)
class SimTick:
    """One tick the simulated broker quotes; ``ts`` is UTC (3 decimals)."""

    asset: str
    ts: float
    price: float

    def broker_ts(self, offset: int = BROKER_OFFSET) -> float:
        """The time as the broker writes it (ahead of UTC)."""
        return self.ts + offset


@dataclass(slots=True)
class _Walk:
    asset: str
    label: str
    id: int
    payout: int
    rng: random.Random
    price: float
    next_ts: float = 0.0
    next_price: float = 0.0
    base_ts: float = 0.0  # the regular grid the ticks sit on
    extra_pending: bool = False
    # Every tick of the walk so far, so any window since it began can be answered exactly.
    times: array[float] = field(default_factory=lambda: array("d"))
    prices: array[float] = field(default_factory=lambda: array("d"))
    junction: Junction | None = None

    def keep(self, ts: float, price: float) -> None:
        self.times.append(ts)
        self.prices.append(price)


def asset_names(spec: str | int | Sequence[str]) -> list[str]:
    """``3`` → the first three known assets; ``"A_otc,B_otc"`` or a list → those names."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        n = int(spec)
        if not 1 <= n <= len(KNOWN_ASSETS):
            raise ValueError(
                f"the simulator knows {len(KNOWN_ASSETS)} assets; ask for 1 to {len(KNOWN_ASSETS)}"
            )
        return [a[0] for a in KNOWN_ASSETS[:n]]
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s) for s in spec]
    names = [n for n in names if n]
    if not names:
        raise ValueError("give a number of assets or a list of asset names")
    if len(set(names)) != len(names):
        raise ValueError("an asset is listed twice")
    return names


class SimFeed:
    """Seeded ticks for several assets, plus the bodies of the broker's other events."""

    def __init__(
        self,
        *,
        seed: int = 1,
        assets: str | int | Sequence[str] = 3,
        rate: float = 2.0,
        start: float,
        broker_offset: int = BROKER_OFFSET,
        steady: bool = False,
    ) -> None:
        if not 0 < rate <= 1000:
            raise ValueError("rate must be between 0 and 1000 ticks per second per asset")
        self.seed = seed
        self.rate = rate
        self.start = start
        self.broker_offset = broker_offset
        self.steady = steady
        self._spacing = 1.0 / rate  # 0.5 s at the real 2 ticks/s
        known = {a[0]: a for a in KNOWN_ASSETS}
        self._walks: list[_Walk] = []
        for name in asset_names(assets):
            rng = random.Random(f"{seed}:{name}")
            _, label, price, asset_id = known.get(
                name,
                (
                    name,
                    name.replace("_otc", " OTC"),
                    round(rng.uniform(0.5, 2.0), 5),
                    1000 + len(self._walks),
                ),
            )
            walk = _Walk(name, label, asset_id, rng.choice((80, 85, 88, 90, 92, 92)), rng, price)
            self._walks.append(walk)
            self._prefill(walk)

    @property
    def assets(self) -> list[str]:
        """The simulated assets, in order."""
        return [w.asset for w in self._walks]

    # ------------------------------------------------------------------ ticks

    def _prefill(self, walk: _Walk) -> None:
        # The walk starts before `start`, so that history on changeSymbol has about 15 minutes.
        span = min(HISTORY_SECONDS, MAX_HISTORY_TICKS * self._spacing * 0.8)
        walk.base_ts = self.start - span
        if self.steady:
            s = self._spacing
            walk.base_ts = (walk.base_ts // s + 0.9) * s
        walk.next_ts = round(walk.base_ts, 3)
        walk.next_price = walk.price
        walk.junction = Junction(self.seed, walk.asset, walk.next_ts, walk.price, self._spacing)
        while walk.next_ts < self.start:
            walk.keep(walk.next_ts, walk.next_price)
            self._advance(walk)

    def _advance(self, walk: _Walk) -> None:
        """Schedule the tick after the current one."""
        rng = walk.rng
        last_ts, last_price = walk.next_ts, walk.next_price
        s = self._spacing
        if self.steady:
            walk.base_ts += s
            walk.next_ts, walk.next_price = round(walk.base_ts, 3), self._move(rng, last_price)
            return
        if not walk.extra_pending and rng.random() < 1 / 8:
            # the extra tick every few seconds: 0.2-0.3 s after the last one, same price
            walk.extra_pending = True
            ts = last_ts + rng.uniform(0.4, 0.6) * s
            price = last_price
        else:
            walk.extra_pending = False
            r = rng.random()
            walk.base_ts += s * (0.8 if r < 0.04 else 1.2 if r < 0.08 else 1.4 if r < 0.11 else 1.0)
            ts = walk.base_ts + max(-0.07 * s, min(0.07 * s, rng.gauss(0, 0.02 * s)))
            price = self._move(rng, last_price)
        walk.next_ts = round(max(ts, last_ts + 0.001), 3)
        walk.next_price = price

    @staticmethod
    def _move(rng: random.Random, price: float) -> float:
        # With the repeated extra ticks, about 72 % of consecutive ticks differ, as in the captures.
        if rng.random() < 0.19:
            return price
        size = rng.choice((1, 1, 1, 2, 2, 3, 4, 5, 6, 8)) * 1e-5
        return round(price + size if rng.random() < 0.5 else price - size, 5)

    def next_time(self) -> float:
        """When the next tick of any asset is due (UTC)."""
        return min(w.next_ts for w in self._walks)

    def step(self, now: float) -> list[SimTick]:
        """Every tick due at or before ``now`` (UTC) not given out yet, in time order."""
        out: list[SimTick] = []
        for walk in self._walks:
            while walk.next_ts <= now:
                tick = SimTick(walk.asset, walk.next_ts, walk.next_price)
                out.append(tick)
                walk.keep(tick.ts, tick.price)
                self._advance(walk)
        if len(self._walks) > 1:
            out.sort(key=lambda t: t.ts)
        return out

    # ------------------------------------------------------------------ other events

    def update_stream(self, tick: SimTick) -> list[list[Any]]:
        """The ``updateStream`` body of one tick: ``[[asset, broker time, price]]``."""
        return [[tick.asset, tick.broker_ts(self.broker_offset), tick.price]]

    def assets_body(self) -> list[list[Any]]:
        """The ``updateAssets`` body: one 19-field row per asset (protocol notes §5)."""
        exp = int(self.start // 3600 * 3600 + self.broker_offset)
        frames = [{"time": t} for t in (60, 120, 180, 300, 600, 900, 1800, 3600, 14400)]
        return [
            [
                w.id,
                w.asset,
                w.label,
                "currency",
                5,
                w.payout,
                60,
                30,
                3,
                1,
                0,
                w.id - 65,
                [],
                exp,
                True,
                frames,
                0,
                5,
                -1,
            ]
            for w in self._walks
        ]

    def symbol_id(self, asset: str) -> int | None:
        """The broker's numeric id of an asset (``symbol_id`` in history); None for an unknown asset."""
        return next((w.id for w in self._walks if w.asset == asset), None)

    def ticks_between(self, asset: str, lo: float, hi: float) -> list[tuple[float, float]]:
        """Every tick ``(UTC time, price)`` of an asset with ``lo <= time < hi`` that is due by now.

        Before the walk began they come from the past path, recomputed; after, they are the very
        ticks the walk gave out, so a window answered twice, or streamed live, is always the same.
        Nothing is older than :data:`PAST_DAYS` before the start.
        """
        walk = next((w for w in self._walks if w.asset == asset), None)
        if walk is None or walk.junction is None:
            return []
        lo = max(lo, self.start - PAST_DAYS * 86400)
        out = past_ticks(walk.junction, lo, hi) if lo < walk.junction.ts else []
        i, k = bisect.bisect_left(walk.times, lo), bisect.bisect_left(walk.times, hi)
        out += zip(walk.times[i:k], walk.prices[i:k], strict=True)
        return out

    def payout_of(self, asset: str) -> int | None:
        """An asset's payout in percent (as in ``updateAssets``); None for an unknown asset."""
        return next((w.payout for w in self._walks if w.asset == asset), None)

    def set_payout(self, asset: str, payout: int) -> bool:
        """Change an asset's payout from now on (the next ``updateAssets`` says it); False: unknown asset."""
        walk = next((w for w in self._walks if w.asset == asset), None)
        if walk is None:
            return False
        walk.payout = payout
        return True

    def balance_body(self) -> dict[str, Any]:
        """The ``successupdateBalance`` body of the demo account."""
        return {"isDemo": 1, "balance": 10000.0}

    def history_body(self, asset: str, period: int) -> dict[str, Any] | None:
        """``updateHistoryNewFast`` for an asset: recent ticks and the candles they make, newest-first.

        Candles are ``[time, open, close, high, low]`` in the broker's clock, like the broker's.
        Returns None for an asset the simulator does not have.
        """
        walk = next((w for w in self._walks if w.asset == asset), None)
        if walk is None or period <= 0:
            return None
        off = self.broker_offset
        first = max(0, len(walk.times) - MAX_HISTORY_TICKS)
        recent = list(zip(walk.times[first:], walk.prices[first:], strict=True))
        ticks = [(t, p) for t, p in recent if t >= recent[-1][0] - HISTORY_SECONDS] if recent else []
        candles: dict[int, list[float]] = {}
        for t, p in ticks:
            bucket = int((t + off) // period * period)
            c = candles.get(bucket)
            if c is None:
                candles[bucket] = [p, p, p, p]  # open, close, high, low
            else:
                c[1] = p
                c[2] = max(c[2], p)
                c[3] = min(c[3], p)
        return {
            "asset": asset,
            "period": period,
            "history": [[t + off, p] for t, p in ticks],
            "candles": [[b, *candles[b]] for b in sorted(candles, reverse=True)],
        }


def encode_event(name: str, body: Any) -> tuple[str, bytes]:
    """The two frames of a binary event: the ``451-`` header and the JSON body bytes."""
    header = json.dumps([name, {"_placeholder": True, "num": 0}], separators=(",", ":"))
    return "451-" + header, json.dumps(body, separators=(",", ":")).encode()


def as_frames(
    events: Iterable[tuple[str, Any]], *, ts: float, socket: str = "sim", url: str | None = None
) -> list[Frame]:
    """Received frames, as a capture would record them, for ``(event, body)`` pairs.

    Lets a test or an in-process source run the decoder on the simulator without a network.
    """
    frames = []
    for name, body in events:
        header, raw = encode_event(name, body)
        frames.append(Frame(ts, "recv", socket, url, 1, header))
        frames.append(Frame(ts, "recv", socket, url, 2, base64.b64encode(raw).decode("ascii")))
    return frames
