"""Pure candle aggregation: ticks and broker history in, closed and forming candles out.

No Redis, files or clocks here: the caller passes the wall clock (``now``) when it wants live
closing. The rules, each one a named setting of :class:`Rules` (docs/candles.md says them in
plain words):

- **bucket**: a tick belongs to the candle whose ``time`` is ``floor((ts + off) / tf) * tf - off``;
  ``off`` is 0 for timeframes up to 1h (UTC multiples) and ``broker_day_offset`` above, so 4h and
  1d candles start at the broker's midnight.
- **closing**: a candle closes when a tick of a later bucket of the same asset arrives, or, in live
  mode, when the asset's clock passes its end plus ``grace``. The asset's clock is its newest tick
  time moved on by the wall time since that tick arrived, so a quiet asset still closes its last
  candle, and a replay of old data at full speed is not cut short by today's date.
- **late ticks**: a tick for a bucket that is already closed is counted and left out.
- **gaps**: an interval with no ticks between two candles gives no candle; it is reported.
- **history**: broker candles fill buckets before the first live candle and never replace a
  candle the service already holds.
- **complete**: a live candle ``[t, t + tf)`` is complete when it closes iff capture covered all
  of it: ``covered_since <= t`` (the last capture ``start`` mark, or the first entry applied
  when there is no saved state) and ``alive_until >= t + tf`` (the newest tick or ``alive``
  mark). Broker candles are complete, with the broker's tick count as their volume.

The hot path keeps state in plain lists (one per asset and timeframe) for speed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantumflux.bus.timeframes import BROKER_DAY_OFFSET, alignment_offset, bucket_start
from quantumflux.candles.history import MIN_TS, HistoryRow, fill, history_rows, history_ticks

MAX_AHEAD = 86_400.0  # a tick more than a day ahead of what we have seen is a broken clock
FAR_FUTURE = 4_102_444_800.0  # 2100-01-01: the bound when nothing has been seen yet
UNSET = -1.0

# Fields of a slot (the state of one asset × timeframe), a plain list for speed.
TIME, OPEN, HIGH, LOW, CLOSE, COUNT = 0, 1, 2, 3, 4, 5  # forming candle (TIME == UNSET: none)
CLOSED_HIGH = 6  # newest bucket closed or filled from history
FIRST_LIVE = 7  # first bucket formed from ticks
HELD_LOW = 8  # oldest bucket held (live or history)
TF, OFF = 9, 10
LATE = 11
SENT_T, SENT_N = 12, 13  # last forming state handed out, to send each change once
SLOT_LEN = 14

# Fields of an asset's state.
A_WM, A_ARRIVAL, A_SLOTS, A_LOOP = 0, 1, 2, 3  # A_LOOP: (slot, tf, offset) for the hot loop

# A candle as handed out: (asset, tf, time, open, high, low, close, ticks, closed, complete, volume).
CandleRow = tuple[str, int, int, float, float, float, float, int, bool, bool, int | None]


@dataclass(frozen=True, slots=True)
class Gap:
    """Intervals with no ticks between two candles of one asset and timeframe."""

    asset: str
    tf: int
    after: int  # time of the candle before the gap
    before: int  # time of the candle after it
    missing: int  # how many empty intervals


@dataclass(frozen=True, slots=True)
class Rules:
    """The candle rules, each a named setting (see the module docstring)."""

    timeframes: tuple[int, ...] = (60, 300, 900, 3600, 14400)
    grace: float = 2.0
    broker_day_offset: int = BROKER_DAY_OFFSET
    live: bool = True

    def offset(self, tf: int) -> int:
        """Alignment offset of a timeframe: broker's day above 1h, UTC multiples up to 1h."""
        return alignment_offset(tf, self.broker_day_offset)

    def bucket(self, ts: float, tf: int) -> int:
        """Open time of the candle of timeframe ``tf`` that a tick at ``ts`` belongs to."""
        return int(bucket_start(ts, tf, self.broker_day_offset))


@dataclass(slots=True)
class Changes:
    """What changed since the last :meth:`Aggregator.take_changes`."""

    closed: list[CandleRow] = field(default_factory=list)
    forming: list[CandleRow] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


class Aggregator:
    """Folds ticks of many assets into candles of every configured timeframe."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or Rules()
        self._assets: dict[str, list[Any]] = {}
        self._closed: list[CandleRow] = []
        self._gaps: list[Gap] = []
        self.watermark = 0.0  # newest valid tick time of any asset
        # Capture coverage of this partition: since when it ran without a break, and the
        # newest capture mark seen (the newest tick, the watermark, counts too).
        self.covered_since = UNSET
        self.alive_until = UNSET
        self.bad: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    # ---- state -------------------------------------------------------------------------------

    def _new_asset(self, asset: str) -> list[Any]:
        slots = []
        for tf in self.rules.timeframes:
            s: list[Any] = [UNSET, 0.0, 0.0, 0.0, 0.0, 0, UNSET, UNSET, UNSET, tf, self.rules.offset(tf), 0]
            s += [UNSET, 0]
            slots.append(s)
        st: list[Any] = [0.0, 0.0, slots, [(s, s[TF], s[OFF]) for s in slots]]
        self._assets[asset] = st
        return st

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain values (msgpack-able), for a checkpoint."""
        return {
            "v": 1,
            "watermark": self.watermark,
            "coverage": [self.covered_since, self.alive_until],
            "assets": {
                a: [st[A_WM], st[A_ARRIVAL], [list(s) for s in st[A_SLOTS]]] for a, st in self._assets.items()
            },
        }

    @classmethod
    def restore(
        cls, snap: dict[str, Any] | None, rules: Rules | None = None, now: float | None = None
    ) -> Aggregator:
        """An aggregator continuing from :meth:`snapshot`; timeframes not in it start empty.

        With ``now``, every asset counts as last heard from at ``now``: the time the state spent
        on the shelf (a crash, a hand-over) must not pass for quiet on the asset's clock, or a
        candle whose remaining ticks are still waiting in the stream would close early.
        """
        agg = cls(rules)
        if not snap:
            return agg
        agg.watermark = float(snap.get("watermark", 0.0))
        # A state saved before coverage was kept knows nothing of outages: start a new coverage.
        agg.covered_since, agg.alive_until = (float(x) for x in snap.get("coverage", (UNSET, UNSET)))
        for asset, (wm, arrival, slots) in snap.get("assets", {}).items():
            st = agg._new_asset(asset)
            st[A_WM], st[A_ARRIVAL] = float(wm), float(arrival if now is None else now)
            by_tf = {int(s[TF]): s for s in slots if len(s) == SLOT_LEN}
            for i, s in enumerate(st[A_SLOTS]):
                old = by_tf.get(s[TF])
                if old is not None and int(old[OFF]) == s[OFF]:
                    st[A_SLOTS][i] = list(old)
            st[A_LOOP] = [(s, s[TF], s[OFF]) for s in st[A_SLOTS]]
        return agg

    @property
    def late(self) -> int:
        """Ticks left out because their candle was already closed (counted per timeframe)."""
        return sum(s[LATE] for st in self._assets.values() for s in st[A_SLOTS])

    def assets(self) -> list[str]:
        """Every asset seen."""
        return list(self._assets)

    # ---- ticks -------------------------------------------------------------------------------

    def apply_ticks(self, ticks: Iterable[Sequence[Any]], now: float | None = None) -> None:
        """Fold ``(asset, ts, price)`` ticks, in arrival order; bad ones are counted and skipped."""
        assets = self._assets
        roll = self._roll
        wm = self.watermark
        live_now = now if (now is not None and self.rules.live) else 0.0
        limit = max(wm, live_now) + MAX_AHEAD if (wm or live_now) else FAR_FUTURE
        arrival = now if now is not None else 0.0
        if self.covered_since < 0:
            ticks = list(ticks)
            self._cover_from_first(ticks, limit)
        inf, min_ts = math.inf, MIN_TS  # locals: this loop runs once per tick
        n_ok = 0
        for asset, ts, price in ticks:
            try:
                if not 0.0 < price < inf:
                    self.bad["bad_price"] += 1
                    continue
                if not min_ts <= ts <= limit:
                    self.bad["bad_time"] += 1
                    continue
                st = assets.get(asset)
            except TypeError:  # a field of the wrong type (None, a list, …)
                self.bad["bad_field"] += 1
                continue
            if st is None:
                if not isinstance(asset, str) or not asset:
                    self.bad["bad_field"] += 1
                    continue
                st = self._new_asset(asset)
            if ts > st[0]:
                st[0] = ts
                st[1] = arrival
                if ts > wm:
                    wm = ts
                    limit = (wm if wm > live_now else live_now) + MAX_AHEAD
            n_ok += 1
            for s, tf, off in st[3]:
                b = (ts + off) // tf * tf - off if off else ts // tf * tf
                cur = s[0]
                if b == cur:
                    if price > s[2]:
                        s[2] = price
                    elif price < s[3]:
                        s[3] = price
                    s[4] = price
                    s[5] += 1
                elif b > cur:
                    roll(asset, s, b, price)
                else:
                    s[11] += 1
        self.watermark = wm
        self.counts["ticks"] += n_ok

    def _cover_from_first(self, ticks: list[Sequence[Any]], limit: float) -> None:
        """With no capture mark and no saved state, coverage starts at the first good tick."""
        for asset, ts, price in ticks:
            try:
                if 0.0 < price < math.inf and MIN_TS <= ts <= limit and isinstance(asset, str) and asset:
                    self.covered_since = float(ts)
                    return
            except TypeError:
                continue

    def _roll(self, asset: str, s: list[Any], b: float, price: float) -> None:
        """A tick of a later bucket: close the forming candle (if any) and start a new one."""
        cur = s[TIME]
        tf = s[TF]
        if cur >= 0:
            self._close(asset, s, math.inf)  # the tick itself shows capture ran past the end
            prev = cur
        else:
            if b <= s[CLOSED_HIGH]:  # that bucket is already closed (or came from history)
                s[LATE] += 1
                return
            prev = s[CLOSED_HIGH]
        if prev >= 0 and b > prev + tf:
            missing = int((b - prev) // tf) - 1
            self._gaps.append(Gap(asset, tf, int(prev), int(b), missing))
            self.counts["gaps"] += 1
            self.counts["missing_intervals"] += missing
        s[TIME] = b
        s[OPEN] = s[HIGH] = s[LOW] = s[CLOSE] = price
        s[COUNT] = 1
        if s[FIRST_LIVE] < 0:
            s[FIRST_LIVE] = b
        if s[HELD_LOW] < 0 or b < s[HELD_LOW]:
            s[HELD_LOW] = b

    def _close(self, asset: str, s: list[Any], alive_until: float) -> None:
        t = s[TIME]
        complete = 0 <= self.covered_since <= t and alive_until >= t + s[TF]
        self._closed.append(
            (asset, s[TF], int(t), s[OPEN], s[HIGH], s[LOW], s[CLOSE], s[COUNT], True, complete, None)
        )
        if t > s[CLOSED_HIGH]:
            s[CLOSED_HIGH] = t
        s[TIME] = UNSET
        s[SENT_T] = UNSET
        self.counts["closed"] += 1

    # ---- clock -------------------------------------------------------------------------------

    def asset_clock(self, asset: str, now: float | None) -> float:
        """The asset's event time: its newest tick, moved on by wall time since it arrived (live)."""
        st = self._assets.get(asset)
        if st is None:
            return now if (now is not None and self.rules.live) else 0.0
        if now is None or not self.rules.live:
            return float(st[A_WM])
        return float(st[A_WM]) + max(0.0, now - float(st[A_ARRIVAL]))

    def next_close(self) -> float | None:
        """The wall-clock time :meth:`advance` will next close a candle on time, if any is forming
        (live mode), so a caller can wake up for it rather than close it late."""
        if not self.rules.live:
            return None
        grace = self.rules.grace
        due = [
            s[TIME] + s[TF] + grace - st[A_WM] + st[A_ARRIVAL]
            for st in self._assets.values()
            for s in st[A_SLOTS]
            if s[TIME] >= 0
        ]
        return min(due, default=None)

    def advance(self, now: float) -> None:
        """Close every candle whose end plus the grace has passed on its asset's clock (live mode).

        Call it only when the input is caught up: a backlog still waiting to be read would
        otherwise look like a quiet asset.
        """
        if not self.rules.live:
            return
        grace = self.rules.grace
        alive_until = max(self.alive_until, self.watermark)
        for asset, st in self._assets.items():
            clock = st[A_WM] + max(0.0, now - st[A_ARRIVAL])
            for s in st[A_SLOTS]:
                if s[TIME] >= 0 and clock >= s[TIME] + s[TF] + grace:
                    self._close(asset, s, alive_until)

    # ---- capture coverage --------------------------------------------------------------------

    def apply_capture(self, state: str, ts: float) -> None:
        """A capture mark: ``start`` begins a new coverage at ``ts``; ``alive`` extends it to ``ts``.

        A candle forming when capture restarts began before the new coverage, so it will close
        incomplete: the ticks of the break are missing from it.
        """
        if not (isinstance(ts, int | float) and MIN_TS <= ts < FAR_FUTURE):
            self.bad["bad_capture_mark"] += 1
            return
        if state == "start":
            self._close_ended(ts)
            self.covered_since = float(ts)
        elif state == "alive":
            if self.covered_since < 0:
                self.covered_since = float(ts)
        else:
            self.bad["bad_capture_mark"] += 1
            return
        if ts > self.alive_until:
            self.alive_until = float(ts)

    def _close_ended(self, start: float) -> None:
        """Close the candles that ended before capture restarted, judged by the coverage that ended.

        No tick of the new capture can belong to them, and a candle the old capture saw to its
        end must not pass for broken because the restart came before its closing tick.
        """
        alive_until = max(self.alive_until, self.watermark)
        for asset, st in self._assets.items():
            for s in st[A_SLOTS]:
                if s[TIME] >= 0 and s[TIME] + s[TF] <= start:
                    self._close(asset, s, alive_until)

    # ---- history -----------------------------------------------------------------------------

    def apply_history(
        self,
        asset: str,
        period: int,
        candles: Iterable[Sequence[Any]],
        ticks: Iterable[Sequence[Any]] = (),
        now: float | None = None,
    ) -> None:
        """Merge a broker history batch: candles ``[time, open, high, low, close(, volume)]`` and ticks.

        Candles of the batch's period fill buckets older than the first live candle (and, while
        no live candle exists, buckets newer than the held ones that are already over); a bucket
        already held is never replaced. The ticks are folded like live ticks when they are newer
        than anything seen for the asset; older ones are already covered and are skipped.
        """
        if not isinstance(asset, str) or not asset:
            self.bad["bad_field"] += 1
            return
        parsed, bad_ticks = history_ticks(ticks)
        self.bad["bad_history_tick"] += bad_ticks
        good_ticks = [(asset, ts, price) for ts, price in parsed]
        st = self._assets.get(asset) or self._new_asset(asset)
        clock = self.asset_clock(asset, now)
        valid_ts = [ts for _, ts, p in good_ticks if math.isfinite(ts) and ts >= MIN_TS]
        if valid_ts:
            clock = max(clock, valid_ts[-1])
        rows, bad_candles = history_rows(candles)
        self.bad["bad_history_candle"] += bad_candles
        for s in st[A_SLOTS]:
            if s[TF] == period and rows:
                self._fill(asset, s, rows, clock)
        fresh = [t for t in good_ticks if t[1] > st[A_WM]]
        self.counts["history_ticks_skipped"] += len(good_ticks) - len(fresh)
        late_before = [s[LATE] for s in st[A_SLOTS]]
        self.apply_ticks(fresh, now)
        # Ticks the history candles already cover are not late: the broker sent both.
        for s, before in zip(st[A_SLOTS], late_before, strict=True):
            self.counts["history_ticks_skipped"] += s[LATE] - before
            s[LATE] = before

    def _fill(self, asset: str, s: list[Any], rows: list[HistoryRow], clock: float) -> None:
        done = fill(rows, s[TF], s[OFF], (s[HELD_LOW], s[CLOSED_HIGH], s[FIRST_LIVE]), clock)
        tf = s[TF]
        self._closed.extend(
            (asset, tf, t, o, h, lo, cl, 0, True, True, v) for t, o, h, lo, cl, v in done.accepted
        )
        s[HELD_LOW], s[CLOSED_HIGH] = done.held_low, done.closed_high
        self.bad["history_misaligned"] += done.misaligned
        self.counts["history_ignored"] += done.ignored
        self.counts["history_candles"] += len(done.accepted)

    # ---- output ------------------------------------------------------------------------------

    def take_changes(self) -> Changes:
        """Candles closed, forming candles changed, and gaps seen since the last call."""
        forming: list[CandleRow] = []
        since = self.covered_since
        for asset, st in self._assets.items():
            for s in st[A_SLOTS]:
                t = s[TIME]
                if t >= 0 and (t != s[SENT_T] or s[COUNT] != s[SENT_N]):
                    whole = 0 <= since <= t  # whole so far: covered since it began
                    forming.append(
                        (
                            asset,
                            s[TF],
                            int(t),
                            s[OPEN],
                            s[HIGH],
                            s[LOW],
                            s[CLOSE],
                            s[COUNT],
                            False,
                            whole,
                            None,
                        )
                    )
                    s[SENT_T], s[SENT_N] = t, s[COUNT]
        out = Changes(self._closed, forming, self._gaps)
        self._closed = []
        self._gaps = []
        return out

    def forming(self) -> list[CandleRow]:
        """Every candle still forming (not closed), for inspection and tests."""
        return [
            self._forming_row(a, s) for a, st in self._assets.items() for s in st[A_SLOTS] if s[TIME] >= 0
        ]

    def _forming_row(self, asset: str, s: list[Any]) -> CandleRow:
        # A forming candle is complete so far when capture has covered it since it began.
        t = s[TIME]
        complete = 0 <= self.covered_since <= t
        return (asset, s[TF], int(t), s[OPEN], s[HIGH], s[LOW], s[CLOSE], s[COUNT], False, complete, None)
