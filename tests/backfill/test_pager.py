"""The pager's arithmetic: windows, the broker's clock, and candles from tick answers."""

from __future__ import annotations

from quantumflux.backfill import pager
from quantumflux.backfill.pager import Window
from quantumflux.files.collect import CollectedCandle


def test_windows_go_back_150_candles_at_a_time_and_skip_what_is_held() -> None:
    first, newest = 60 * 1000, 60 * 1400  # 401 candles
    plan = pager.windows("A", 60, first, newest, set())
    assert [(w.oldest, w.newest) for w in plan] == [
        (newest - 149 * 60, newest),
        (newest - 299 * 60, newest - 150 * 60),
        (first, newest - 300 * 60),
    ]
    assert sum(w.count for w in plan) == 401
    # A window held whole is not asked again; one with a single missing candle is.
    held = set(range(newest - 149 * 60, newest + 60, 60)) | set(range(first, newest - 300 * 60, 60))
    assert [w.newest for w in pager.windows("A", 60, first, newest, held)] == [
        newest - 150 * 60,
        newest - 300 * 60,
    ]


def test_a_request_asks_for_exactly_its_window_in_the_brokers_clock() -> None:
    w = Window("EURUSD_otc", 300, 1_800_000_000 - 9 * 300, 1_800_000_000)
    index = pager.request_index(1_786_663_908.7, 186)
    assert index == 178666390886  # the page's own form: the second, then two digits
    assert pager.request_body(w, index, 7200) == {
        "asset": "EURUSD_otc",
        "index": 178666390886,
        "time": 1_800_007_200,
        "offset": 3000,
        "period": 300,
    }


def test_the_clock_is_read_from_the_probes_answer_in_half_hours() -> None:
    probe = pager.probe_window("A", 1_800_000_000)
    assert probe.newest < 1_800_000_000 - 5 * 3600
    assert pager.measured_offset(probe, probe.newest) == 7200  # the decoder took +7200 too
    assert pager.measured_offset(probe, probe.newest + 7200 - 120) == 0  # a UTC broker, 2 quiet minutes
    assert pager.measured_offset(probe, probe.newest + 3600) == 3600
    assert pager.measured_offset(probe, None) == 7200


def test_ticks_become_candles_of_the_period_and_only_whole_intervals_are_complete() -> None:
    ticks = [(120.0, 1.0), (100.5, 2.0), (150.0, 0.5), (179.9, 1.5), (180.0, 3.0), (200.0, 2.5)]
    got = pager.candles_from_ticks(ticks, 60, 90.0, 240.0)
    assert got == [
        CollectedCandle(60, 2.0, 2.0, 2.0, 2.0, 1, 1, complete=False),  # the window starts inside it
        CollectedCandle(120, 1.0, 1.5, 0.5, 1.5, 3, 3, complete=True),
        CollectedCandle(180, 3.0, 3.0, 2.5, 2.5, 2, 2, complete=True),
    ]
    # The window ends inside the last one: not complete.
    assert [c.complete for c in pager.candles_from_ticks(ticks, 60, 90.0, 230.0)] == [False, True, False]


def test_an_answer_adds_whole_new_candles_of_its_window_never_the_forming_one() -> None:
    w = Window("A", 60, 600, 780)
    candles = [
        (540, 1, 2, 0.5, 1.5, 9),
        (600, 1, 2, 0.5, 1.5, 9),
        (660, 1, 2, 0.5, 1.5),
        (720, 1, 2, 0.5, 1.5, 3),
    ]
    candles.append((780, 1, 2, 0.5, 1.5, 1))
    rows = pager.page_rows(w, candles, [], captured=839.0, held={660})
    assert [(c.time, c.volume, c.ticks) for c in rows] == [(600, 9, 0), (720, 3, 0)]
    assert pager.page_rows(w, candles, [], captured=840.0, held=set())[-1].time == 780


def test_the_history_ends_at_an_empty_page_or_one_short_of_its_start() -> None:
    w = Window("A", 60, 600, 780)
    assert pager.history_ends(w, [], [])
    assert pager.history_ends(w, [(720, 1, 1, 1, 1)], [])
    assert not pager.history_ends(w, [(660, 1, 1, 1, 1), (720, 1, 1, 1, 1)], [])
    assert not pager.history_ends(w, [], [(601.0, 1.0)])


def test_progress_tells_candles_per_second_and_time_left() -> None:
    p = pager.Progress(started=100.0, pages_planned=4)
    assert p.left(101.0) is None
    p = p.page(150).page(150)
    assert p.rate(102.0) == 150.0
    assert p.left(102.0) == 2.0
