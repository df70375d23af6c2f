"""The pure candle core against hand-checked cases and an independent pandas computation."""

from __future__ import annotations

import itertools
import math

import msgpack
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantumflux.candles.aggregator import Aggregator, Rules

T0 = 1_781_438_400  # 2026-06-14 12:00 UTC: a whole minute, 5m, 1h and 4h of UTC
UTC_MIDNIGHT = 1_781_395_200  # 2026-06-14 00:00 UTC


def key_map(rows):
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5], r[6], r[7]) for r in rows}


def fold_all(agg: Aggregator, ticks, now=None):
    agg.apply_ticks(ticks, now)
    return agg.take_changes()


# ---- hand-checked rules ------------------------------------------------------------------------


def test_bucket_edges_x000_and_x999():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    ch = fold_all(agg, [("A", T0 - 0.001, 1.0), ("A", T0 + 59.999, 2.0), ("A", T0 + 60.0, 3.0)])
    assert key_map(ch.closed) == {
        ("A", 60, T0 - 60): (1.0, 1.0, 1.0, 1.0, 1),
        ("A", 60, T0): (2.0, 2.0, 2.0, 2.0, 1),
    }
    assert key_map(ch.forming) == {("A", 60, T0 + 60): (3.0, 3.0, 3.0, 3.0, 1)}


def test_four_hour_and_day_candles_start_at_the_brokers_midnight():
    broker = Aggregator(Rules(timeframes=(3600, 14400, 86400), broker_day_offset=7200, live=False))
    utc = Aggregator(Rules(timeframes=(3600, 14400, 86400), broker_day_offset=0, live=False))
    tick = [("A", UTC_MIDNIGHT + 3 * 3600 + 5, 1.0)]  # 03:00:05 UTC = 05:00:05 broker time
    broker.apply_ticks(tick)
    utc.apply_ticks(tick)
    got = {(r[1], r[2]) for r in broker.forming()}
    # 1h stays on UTC hours; 4h starts at 02:00 UTC (04:00 broker); the day at 22:00 UTC the day before.
    assert got == {
        (3600, UTC_MIDNIGHT + 3 * 3600),
        (14400, UTC_MIDNIGHT + 2 * 3600),
        (86400, UTC_MIDNIGHT - 7200),
    }
    assert {(r[1], r[2]) for r in utc.forming()} == {
        (3600, UTC_MIDNIGHT + 3 * 3600),
        (14400, UTC_MIDNIGHT),
        (86400, UTC_MIDNIGHT),
    }


def test_late_tick_is_counted_and_left_out_of_the_closed_candle():
    agg = Aggregator(Rules(timeframes=(60, 300), live=False))
    ch = fold_all(agg, [("A", T0 + 1, 1.0), ("A", T0 + 61, 2.0), ("A", T0 + 30, 9.0)])
    assert key_map(ch.closed) == {("A", 60, T0): (1.0, 1.0, 1.0, 1.0, 1)}
    # The 5m candle is still open, so the same tick is on time there.
    assert key_map(agg.forming())[("A", 300, T0)] == (1.0, 9.0, 1.0, 9.0, 3)
    assert agg.late == 1


def test_quiet_asset_closes_on_the_wall_clock_in_live_mode_only():
    live = Aggregator(Rules(timeframes=(5,), grace=2.0, live=True))
    replay = Aggregator(Rules(timeframes=(5,), grace=2.0, live=False))
    for agg in (live, replay):
        agg.apply_ticks([("A", T0 + 1.0, 1.0), ("A", T0 + 3.0, 1.5)], now=T0 + 3.0)
        agg.advance(T0 + 6.9)  # end 5 + grace 2 not reached yet on the asset's clock
        assert agg.take_changes().closed == []
        agg.advance(T0 + 7.0)
    assert key_map(live.take_changes().closed) == {("A", 5, T0): (1.0, 1.5, 1.0, 1.5, 2)}
    assert replay.take_changes().closed == []


def test_the_next_close_on_time_is_when_advance_closes_the_candle():
    agg = Aggregator(Rules(timeframes=(5, 10), grace=0.1, live=True))
    assert agg.next_close() is None
    # the asset's clock runs 0.02 s behind the wall clock: its last tick came that late
    agg.apply_ticks([("A", T0 + 4.9, 1.0)], now=T0 + 4.92)
    due = agg.next_close()
    assert due == pytest.approx(T0 + 5.1 + 0.02)
    agg.advance(math.nextafter(due, 0.0) - 1e-6)
    assert agg.take_changes().closed == []
    agg.advance(due)
    assert [r[1] for r in agg.take_changes().closed] == [5]
    assert agg.next_close() == pytest.approx(T0 + 10.1 + 0.02)  # the 10 s candle is next
    assert Aggregator(Rules(timeframes=(5,), live=False)).next_close() is None


def test_live_clock_follows_the_asset_not_the_calendar():
    # Old ticks replayed now: the asset's clock is its last tick plus wall time since it came.
    agg = Aggregator(Rules(timeframes=(60,), grace=2.0, live=True))
    now = T0 + 10 * 86400.0
    agg.apply_ticks([("A", T0 + 1.0, 1.0)], now=now)
    agg.advance(now + 1.0)
    assert agg.take_changes().closed == []
    agg.advance(now + 61.0)
    assert len(agg.take_changes().closed) == 1


def test_time_on_the_shelf_does_not_count_as_quiet_after_a_restore():
    agg = Aggregator(Rules(timeframes=(60,), grace=2.0, live=True))
    agg.apply_ticks([("A", T0 + 1.0, 1.0)], now=T0 + 1.0)
    later = T0 + 3600.0  # restarted an hour later, the rest of that minute still to be read
    back = Aggregator.restore(agg.snapshot(), agg.rules, now=later)
    back.advance(later + 1.0)
    assert back.take_changes().closed == []
    back.apply_ticks([("A", T0 + 30.0, 2.0)], now=later + 1.5)
    back.advance(later + 62.0)
    assert key_map(back.take_changes().closed) == {("A", 60, T0): (1.0, 2.0, 1.0, 2.0, 2)}


def test_gaps_are_reported_and_give_no_candle():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    ch = fold_all(agg, [("A", T0 + 1, 1.0), ("A", T0 + 240 + 1, 2.0)])
    assert [(g.asset, g.tf, g.after, g.before, g.missing) for g in ch.gaps] == [("A", 60, T0, T0 + 240, 3)]
    assert [r[2] for r in ch.closed] == [T0]
    assert agg.counts["missing_intervals"] == 3


def test_bad_ticks_are_counted_and_never_stall_other_assets():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    bad = [
        ("B", T0 + 1, float("nan")),
        ("B", T0 + 1, float("inf")),
        ("B", T0 + 1, 0.0),
        ("B", T0 + 1, -1.0),
        ("B", 900_000_000.0, 1.0),  # 1998
        ("B", float("nan"), 1.0),
        ("B", None, 1.0),
        (None, T0 + 1, 1.0),
        (["x"], T0 + 1, 1.0),
    ]
    agg.apply_ticks([("A", T0 + 1, 1.0), *bad, ("A", T0 + 2, 2.0)])
    agg.apply_ticks([("B", T0 + 86400 * 3, 1.0), ("A", T0 + 3, 3.0)])  # 3 days ahead of anything seen
    assert key_map(agg.forming()) == {("A", 60, T0): (1.0, 3.0, 1.0, 3.0, 3)}
    assert sum(agg.bad.values()) == len(bad) + 1
    assert agg.bad["bad_time"] == 3


def test_snapshot_restores_through_msgpack_and_keeps_new_timeframes_empty():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_ticks([("A", T0 + 1, 1.0), ("A", T0 + 2, 2.0)])
    snap = msgpack.unpackb(msgpack.packb(agg.snapshot()), raw=False, strict_map_key=False)
    back = Aggregator.restore(snap, Rules(timeframes=(60, 300), live=False))
    back.apply_ticks([("A", T0 + 3, 0.5)])
    assert key_map(back.forming()) == {
        ("A", 60, T0): (1.0, 2.0, 0.5, 0.5, 3),
        ("A", 300, T0): (0.5, 0.5, 0.5, 0.5, 1),
    }


# ---- history merge -----------------------------------------------------------------------------


def hist(t, o=1.0, h=2.0, low=0.5, c=1.5):
    return [t, o, h, low, c]


def test_history_before_live_fills_older_buckets_and_holds_back_the_running_one():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    candles = [hist(T0 + 60 * k) for k in range(5)]  # the last one may still be forming at the broker
    agg.apply_history("A", 60, candles)
    ch = agg.take_changes()
    assert [r[2] for r in ch.closed] == [T0 + 60 * k for k in range(4)]
    assert all(r[7] == 0 for r in ch.closed)  # tick count unknown for broker candles
    # Live ticks then start the running bucket; a tick for a filled bucket is late.
    agg.apply_ticks([("A", T0 + 200, 9.0), ("A", T0 + 250, 3.0)])
    ch = agg.take_changes()
    assert ch.closed == []
    assert key_map(ch.forming) == {("A", 60, T0 + 240): (3.0, 3.0, 3.0, 3.0, 1)}
    assert agg.late == 1


def test_history_overlapping_live_never_overwrites_and_fills_only_before_the_first_live_candle():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_ticks([("A", T0 + 600 + 1, 5.0), ("A", T0 + 660 + 1, 6.0), ("A", T0 + 780 + 1, 7.0)])
    agg.take_changes()
    agg.apply_history("A", 60, [hist(T0 + 60 * k) for k in range(20)])
    ch = agg.take_changes()
    assert sorted(r[2] for r in ch.closed) == [T0 + 60 * k for k in range(10)]
    # A second, longer batch adds only what is older still; nothing twice.
    agg.apply_history("A", 60, [hist(T0 + 60 * k) for k in range(-3, 20)])
    assert sorted(r[2] for r in agg.take_changes().closed) == [T0 - 180, T0 - 120, T0 - 60]
    live = {r[2]: r for r in agg.forming()}
    assert live[T0 + 780][3:8] == (7.0, 7.0, 7.0, 7.0, 1)


def test_history_after_live_is_ignored_and_its_ticks_only_extend():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_ticks([("A", T0 + 1, 1.0), ("A", T0 + 61, 2.0)])
    agg.take_changes()
    ticks = [[T0 + 30, 9.0], [T0 + 62, 3.0], [T0 + 125, 4.0]]
    agg.apply_history("A", 60, [hist(T0), hist(T0 + 60)], ticks)
    ch = agg.take_changes()
    assert key_map(ch.closed) == {("A", 60, T0 + 60): (2.0, 3.0, 2.0, 3.0, 2)}
    assert key_map(ch.forming) == {("A", 60, T0 + 120): (4.0, 4.0, 4.0, 4.0, 1)}
    assert agg.late == 0
    assert agg.counts["history_ignored"] == 2


def test_history_of_another_period_or_misaligned_is_not_used():
    agg = Aggregator(Rules(timeframes=(60, 300), live=False))
    agg.apply_history("A", 300, [hist(T0 + 30), hist(T0 - 600), hist(T0 - 300)], now=None)
    ch = agg.take_changes()
    assert [(r[1], r[2]) for r in ch.closed] == [(300, T0 - 600)]  # T0-300 is the newest: held back
    assert agg.bad["history_misaligned"] == 1


# ---- property test against pandas --------------------------------------------------------------

TFS = (5, 60, 300, 3600, 14400, 86400)
OFFSET = 7200
MIN_TS = 946_684_800.0


def pandas_candles(ticks):
    """Independent computation: pandas datetime floor per timeframe, late = bucket below the running max."""
    df = pd.DataFrame(ticks, columns=["asset", "ts", "price"])
    ok = np.isfinite(df.price) & (df.price > 0) & np.isfinite(df.ts) & (df.ts >= MIN_TS)
    df = df[ok].reset_index(drop=True)
    out = {}
    late = 0
    for tf in TFS:
        off = OFFSET if tf > 3600 else 0
        dt = pd.to_datetime(df.ts + off, unit="s").dt.floor(f"{tf}s")
        bucket = (dt - pd.Timestamp(0)) // pd.Timedelta(seconds=1) - off
        d = df.assign(bucket=bucket)
        for asset, g in d.groupby("asset", sort=False):
            prev_max = g.bucket.cummax().shift(1).fillna(-math.inf)
            on_time = g[g.bucket >= prev_max]
            late += len(g) - len(on_time)
            agg = on_time.groupby("bucket").price.agg(["first", "max", "min", "last", "count"])
            for b, row in agg.iterrows():
                out[(asset, tf, int(b))] = (
                    row["first"],
                    row["max"],
                    row["min"],
                    row["last"],
                    int(row["count"]),
                )
    return out, late


edge = st.sampled_from([0.0, 0.999, 0.001, 0.5, 0.25])
tick_times = st.tuples(st.integers(0, 86_000), edge).map(lambda x: T0 - 3600 + x[0] + x[1])
prices = st.one_of(
    st.floats(0.5, 2.0, allow_nan=False).map(lambda p: round(p, 5)),
    st.sampled_from([0.0, -1.0, float("nan"), float("inf")]),
)
raw_ticks = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), tick_times, prices), min_size=1, max_size=250
)


@st.composite
def tick_sets(draw):
    ticks = sorted(draw(raw_ticks), key=lambda t: t[1])
    # Late ticks: move some ticks later in the arrival order.
    for _ in range(draw(st.integers(0, 15))):
        i = draw(st.integers(0, len(ticks) - 1))
        j = draw(st.integers(i, len(ticks) - 1))
        ticks.insert(j, ticks.pop(i))
    # Dense stretches too: a run of ticks inside one 5 s bucket (edge to edge).
    if draw(st.booleans()):
        base = T0 + 5 * draw(st.integers(0, 100))
        ticks += [("A", base + k * 0.999, 1.0 + k / 1000) for k in range(6)]
    cuts = sorted(draw(st.lists(st.integers(0, len(ticks)), max_size=6)))
    return ticks, cuts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tick_sets())
def test_candles_equal_an_independent_pandas_computation(data):
    ticks, cuts = data
    rules = Rules(timeframes=TFS, broker_day_offset=OFFSET, live=False)
    agg = Aggregator(rules)
    closed = []
    bounds = [0, *cuts, len(ticks)]
    for lo, hi in itertools.pairwise(bounds):
        agg.apply_ticks(ticks[lo:hi])
        closed += agg.take_changes().closed
        # Checkpoint between batches, as the worker does, through msgpack.
        snap = msgpack.unpackb(msgpack.packb(agg.snapshot()), raw=False, strict_map_key=False)
        agg = Aggregator.restore(snap, rules)
    got = key_map(closed)
    assert len(got) == len(closed), "a candle closed twice"
    both = got.keys() & key_map(agg.forming()).keys()
    assert not both, "a candle both closed and forming"
    got.update(key_map(agg.forming()))
    want, late = pandas_candles(ticks)
    assert got == want
    assert agg.late == late
