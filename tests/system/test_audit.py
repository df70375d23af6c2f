"""The audit itself must catch what it claims to catch: lost, doubled, invented and wrong data."""

from __future__ import annotations

from tests.system.audit import (
    Step,
    Window,
    aggregate,
    audit_bars,
    audit_client,
    audit_same_set,
    audit_story,
    audit_ticks,
    candle_rows,
    fold_published,
    tick_rows,
)

T0 = 1_795_000_000.0  # a multiple of 5 and 15
TRUTH = [("A_otc", T0 + i * 0.5, 1.0 + i / 1000) for i in range(40)] + [
    ("B_otc", T0 + i * 0.5 + 0.1, 2.0 - i / 1000) for i in range(40)
]


def published(ticks: list[tuple[str, float, float]]) -> list[tuple[object, ...]]:
    return [("tick", a, ts, p) for a, ts, p in ticks]


def test_complete_capture_passes_and_counts() -> None:
    s = audit_ticks(TRUTH, list(TRUTH), [])
    assert not s.problems
    assert "80 ticks sent" in s.lines[0]


def test_lost_doubled_and_invented_ticks_are_problems() -> None:
    kept = [*TRUTH[1:], TRUTH[5], ("A_otc", T0 + 100.0, 9.0)]
    s = audit_ticks(TRUTH, kept, [])
    text = "\n".join(s.problems)
    assert "outside any window" in text and "2 times" in text and "never sent" in text
    assert s.times[0] is not None


def test_ticks_lost_inside_a_window_are_listed_not_problems() -> None:
    kept = [t for t in TRUTH if not T0 + 3 <= t[1] <= T0 + 6]
    s = audit_ticks(TRUTH, kept, [Window(T0 + 3, T0 + 6, "chrome down")])
    assert not s.problems
    gone = len(TRUTH) - len(kept)
    assert gone > 0 and any("chrome down" in line and f"{gone} ticks missing" in line for line in s.lines)


def test_fold_matches_a_hand_computed_candle() -> None:
    bars = aggregate(
        [("A_otc", T0 + 1, 1.0), ("A_otc", T0 + 2, 3.0), ("A_otc", T0 + 3, 0.5), ("A_otc", T0 + 4, 2.0)], 5
    )
    assert bars[("A_otc", int(T0))] == ("A_otc", 5, int(T0), 1.0, 3.0, 0.5, 2.0, 4)


def test_history_fills_only_newer_ticks_of_candles_still_open() -> None:
    live = [("tick", "A_otc", T0 + 1, 1.0)]
    # Newer than the live tick and arriving while the candle is open: folded in.
    hist_open = ("history", "A_otc", ((T0 + 0.5, 9.0), (T0 + 2, 2.0)), T0 + 3)
    bars, _ = fold_published([*live, hist_open], 5)
    assert bars[("A_otc", int(T0))][3:] == (1.0, 2.0, 1.0, 2.0, 2)
    # Arriving after the candle closed on the wall clock: left out.
    hist_late = ("history", "A_otc", ((T0 + 2, 2.0),), T0 + 5 + 2 + 1)
    bars, late = fold_published([*live, hist_late], 5)
    assert bars[("A_otc", int(T0))][7] == 1 and late == 1


def test_bars_wrong_missing_doubled_are_problems() -> None:
    pub = published(TRUTH)
    good = list(aggregate(TRUTH, 5).values())
    assert not audit_bars("stream", good, pub, 5, settled_before=T0 + 100).problems
    wrong = [(*good[0][:6], good[0][6] + 0.1, good[0][7]), *good[1:], good[2]]
    s = audit_bars("stream", wrong[:-3] + wrong[-2:], pub, 5, settled_before=T0 + 100)
    text = "\n".join(s.problems)
    assert "published ticks give" in text and "2 times" in text and "missing" in text


def test_same_set_and_client() -> None:
    bars = list(aggregate(TRUTH, 5).values())
    assert not audit_same_set("x", "a", bars, "b", bars).problems
    assert len(audit_same_set("x", "a", bars[1:], "b", bars).problems) == 1
    a_bars = [b for b in bars if b[0] == "A_otc"]
    sent = [
        {"asset": b[0], "timeframe": "5s", "time": b[2], "open": b[3], "high": b[4], "low": b[5], "close": b[6],
         "ticks": b[7], "closed": True}
        for b in a_bars
    ]  # fmt: skip
    assert not audit_client("A_otc", 5, bars, sent, T0).problems
    assert len(audit_client("A_otc", 5, bars, sent[1:], T0).problems) == 1


def test_story_needs_its_steps_in_order() -> None:
    events = [
        {"type": "service_status", "service": "candles", "state": "running", "ts": T0 + 1, "instance": "n"},
        {"type": "service_status", "service": "candles", "state": "starting", "ts": T0 + 2, "instance": "n"},
    ]
    steps = [Step("service_status", {"state": "starting"}), Step("service_status", {"state": "running"})]
    sec, _ = audit_story("x", events, T0, T0 + 10, steps)
    assert sec.problems
    sec, times = audit_story("x", list(reversed(events)), 0, T0 + 10, steps[:1])
    assert not sec.problems and times == [T0 + 2]
    assert audit_story("x", events, T0, T0 + 10, [Step("service_status", {"instance": "!n"})])[0].problems


def test_files_are_read_by_their_public_names() -> None:
    ticks = tick_rows(
        "A_otc_ticks_20261122T030500Z_0001.csv", "timestamp,price\n2026-11-22T03:05:00.250Z,1.5\n"
    )
    assert ticks[0][0] == "A_otc" and ticks[0][2] == 1.5 and abs(ticks[0][1] % 60 - 0.25) < 1e-6
    bars = candle_rows(
        "A_otc_1M_20261122T030500Z_0001.csv",
        "timestamp,open,high,low,close,ticks\n2026-11-22T03:05:00Z,1,2,0.5,1.5,7\n",
    )
    assert bars[0][1] == 60 and bars[0][7] == 7
