"""Which candles are complete: the pure core against hand-checked cases and an independent model."""

from __future__ import annotations

import math

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantumflux.candles.aggregator import Aggregator, Rules

T0 = 1_781_438_400  # 2026-06-14 12:00 UTC: a whole minute, 5m and 1h


def flags(rows):
    """(asset, tf, time) -> (complete, volume) of candle rows."""
    return {(r[0], r[1], r[2]): (r[9], r[10]) for r in rows}


def live_minute(agg: Aggregator, start: float, end: float, asset: str = "A", every: float = 0.5) -> None:
    """Ticks of one asset from ``start`` to ``end``, each arriving at its own time."""
    ts = start
    while ts <= end:
        agg.apply_ticks([(asset, ts, 1.0 + (ts - T0) / 1e4)], now=ts)
        ts += every


# ---- hand-checked ------------------------------------------------------------------------------


def test_first_candle_after_a_start_is_incomplete_and_the_next_ones_complete():
    agg = Aggregator(Rules(timeframes=(60, 300), live=False))
    agg.apply_capture("start", T0 + 12.0)  # capture began 12 s into the minute and the 5-minute
    agg.apply_ticks([("A", T0 + 12.5, 1.0), ("A", T0 + 61, 2.0), ("A", T0 + 121, 3.0), ("A", T0 + 301, 4.0)])
    got = flags(agg.take_changes().closed)
    assert got == {
        ("A", 60, T0): (False, None),
        ("A", 60, T0 + 60): (True, None),
        ("A", 60, T0 + 120): (True, None),
        ("A", 300, T0): (False, None),
    }
    # Forming candles say whether they are whole so far.
    assert flags(agg.forming()) == {("A", 60, T0 + 300): (True, None), ("A", 300, T0 + 300): (True, None)}


def test_without_marks_or_state_coverage_starts_at_the_first_entry():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_ticks([("B", 0.0, 1.0), ("A", T0 + 60.0, 1.0), ("A", T0 + 90, 1.0), ("A", T0 + 121, 2.0)])
    assert flags(agg.take_changes().closed) == {("A", 60, T0 + 60): (True, None)}
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_ticks([("A", T0 + 30.0, 1.0), ("A", T0 + 61, 1.0)])
    assert flags(agg.take_changes().closed) == {("A", 60, T0): (False, None)}


def test_a_candle_closed_by_the_clock_after_capture_was_lost_is_incomplete():
    agg = Aggregator(Rules(timeframes=(60,), grace=2.0, live=True))
    agg.apply_capture("start", T0 - 5.0)
    live_minute(agg, T0, T0 + 59.5)
    agg.apply_capture("alive", T0 + 60.2)  # quiet after the last tick, but capture still runs
    agg.advance(T0 + 62.5)
    assert flags(agg.take_changes().closed) == {("A", 60, T0): (True, None)}
    # The next minute: Chrome is lost at 12:01:20, no mark after it; the clock closes the minute.
    live_minute(agg, T0 + 60.5, T0 + 80.0)
    agg.apply_capture("alive", T0 + 80.5)
    agg.advance(T0 + 123.0)
    assert flags(agg.take_changes().closed) == {("A", 60, T0 + 60): (False, None)}


def test_a_restart_breaks_the_candle_it_falls_in_but_not_the_ones_seen_whole_before():
    agg = Aggregator(Rules(timeframes=(60, 300), live=False))
    agg.apply_capture("start", T0 - 1.0)
    agg.apply_ticks([("A", T0 + k, 1.0) for k in range(0, 180, 5)])  # up to 12:02:55
    agg.apply_capture("alive", T0 + 180.5)
    assert flags(agg.take_changes().closed) == {("A", 60, T0): (True, None), ("A", 60, T0 + 60): (True, None)}
    # The capture dies after 12:03:00.5 and comes back at 12:03:10. 12:02 was seen whole before
    # the break; no tick will ever close it, so the restart does, judged by the old capture.
    agg.apply_capture("start", T0 + 190.0)
    assert flags(agg.take_changes().closed) == {("A", 60, T0 + 120): (True, None)}
    agg.apply_ticks([("A", T0 + 190.5, 2.0), ("A", T0 + 245, 2.0), ("A", T0 + 301, 2.0)])
    assert flags(agg.take_changes().closed) == {
        ("A", 60, T0 + 180): (False, None),  # the break fell in it
        ("A", 60, T0 + 240): (True, None),
        ("A", 300, T0): (False, None),
    }


def test_history_candles_are_complete_with_the_brokers_volume():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_history(
        "A", 60, [[T0, 1.0, 2.0, 0.5, 1.5, 97], [T0 + 60, 1.0, 2.0, 0.5, 1.5], [T0 + 120, 1, 2, 0.5, 1]]
    )
    got = flags(agg.take_changes().closed)
    assert got == {("A", 60, T0): (True, 97), ("A", 60, T0 + 60): (True, None)}
    older = [
        [T0 - 180, 1.0, 2.0, 0.5, 1.5, 3],
        [T0 - 120, 1.0, 2.0, 0.5, 1.5, "x"],
        [T0 - 60, 1, 2, 0.5, 1, 5],
    ]
    agg.apply_history("A", 60, older)  # the newest is held back (no clock to tell it is over)
    assert flags(agg.take_changes().closed) == {("A", 60, T0 - 180): (True, 3)}
    assert agg.bad["bad_history_candle"] == 1


def test_coverage_survives_a_snapshot_and_a_state_without_it_starts_anew():
    rules = Rules(timeframes=(60,), live=False)
    agg = Aggregator(rules)
    agg.apply_capture("start", T0 - 10.0)
    agg.apply_ticks([("A", T0 + 1.0, 1.0), ("A", T0 + 30.0, 1.0)])
    snap = msgpack.unpackb(msgpack.packb(agg.snapshot()), raw=False, strict_map_key=False)
    back = Aggregator.restore(snap, rules, now=T0 + 500)
    back.apply_ticks([("A", T0 + 61.0, 2.0)])
    assert flags(back.take_changes().closed) == {("A", 60, T0): (True, None)}
    del snap["coverage"]  # a state saved before coverage was kept
    old = Aggregator.restore(snap, rules)
    old.apply_ticks([("A", T0 + 40.0, 2.0), ("A", T0 + 61.0, 2.0), ("A", T0 + 121.0, 2.0)])
    assert flags(old.take_changes().closed) == {
        ("A", 60, T0): (False, None),
        ("A", 60, T0 + 60): (True, None),
    }


def test_bad_capture_marks_are_counted_and_change_nothing():
    agg = Aggregator(Rules(timeframes=(60,), live=False))
    agg.apply_capture("start", T0 - 1.0)
    for state, ts in [
        ("start", float("nan")),
        ("start", 5.0),
        ("stop", T0 + 2.0),
        ("alive", None),
        ("start", True),
    ]:
        agg.apply_capture(state, ts)  # type: ignore[arg-type]
    agg.apply_ticks([("A", T0 + 1.0, 1.0), ("A", T0 + 61.0, 1.0)])
    assert flags(agg.take_changes().closed) == {("A", 60, T0): (True, None)}
    assert agg.bad["bad_capture_mark"] == 5


# ---- against an independent model -------------------------------------------------------------

TFS = (5, 60, 300)


def model(sessions, ticks, candle_times):
    """A candle is complete iff one capture session began by its open and was seen past its end.

    ``sessions`` are (start, newest time seen: a tick or an alive mark) per capture run.
    """
    out = {}
    for asset, tf, t in candle_times:
        out[(asset, tf, t)] = any(s <= t and seen >= t + tf for s, seen in sessions)
    return out


@st.composite
def timelines(draw):
    """Capture sessions with breaks between them, ticks and alive marks inside each, in time order."""
    events = []
    sessions = []
    now = T0 + draw(st.integers(0, 120)) / 4
    for _ in range(draw(st.integers(1, 4))):
        start = now
        length = draw(st.integers(1, 1600)) / 4
        events.append((start, "start", None))
        seen = start
        k = 1
        while k <= length:  # an alive mark every second
            events.append((start + k, "alive", None))
            seen = start + k
            k += 1
        for off in draw(st.lists(st.integers(0, int(length * 4)), max_size=60)):
            asset = draw(st.sampled_from(["A", "B"]))
            events.append((start + off / 4, "tick", asset))
            seen = max(seen, start + off / 4)
        sessions.append((start, seen))
        now = seen + draw(st.integers(1, 400)) / 4  # the break
    events.sort(key=lambda e: (e[0], e[1] != "start"))
    return sessions, events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_complete_flags_equal_an_independent_model_of_capture_sessions(data):
    sessions, events = data
    rules = Rules(timeframes=TFS, live=False)
    agg = Aggregator(rules)
    closed = []
    for ts, what, asset in events:
        if what == "tick":
            agg.apply_ticks([(asset, ts, 1.0)])
        else:
            agg.apply_capture(what, ts)
        closed += agg.take_changes().closed
        if len(closed) % 7 == 3:  # through a checkpoint now and then, as the worker does
            snap = msgpack.unpackb(msgpack.packb(agg.snapshot()), raw=False, strict_map_key=False)
            agg = Aggregator.restore(snap, rules)
    got = {(r[0], r[1], r[2]): r[9] for r in closed}
    assert len(got) == len(closed), "a candle closed twice"
    ticks = [(a, ts) for ts, what, a in events if what == "tick"]
    want = model(sessions, ticks, got)
    assert got == want
    # Every candle of a tick is there, closed or forming; forming ones are whole so far or not.
    buckets = {(a, tf, math.floor(ts / tf) * tf) for a, ts in ticks for tf in TFS}
    forming = {(r[0], r[1], r[2]): r[9] for r in agg.forming()}
    assert buckets == set(got) | set(forming)
    covered_since = max(s for s, _seen in sessions)
    assert forming == {k: covered_since <= k[2] for k in forming}
