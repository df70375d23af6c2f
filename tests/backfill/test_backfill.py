"""``qf backfill`` on a real headless Chromium showing the simulated broker, with ingest on Redis.

Every candle written is checked against the simulator's price path recomputed here, and against
the live ticks ingest captured where the two overlap.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio

from quantumflux.backfill import pager
from quantumflux.backfill.worker import Job, Report, backfill
from quantumflux.bus.records import Tick
from tests.backfill.conftest import ASSET_NAMES, Stack, file_rows, file_times, recomputed
from tests.ingest.stack import wait_until

pytestmark = pytest.mark.browser

DAY = 86400


def jobs_back(days: float, assets: tuple[str, ...], tfs: tuple[int, ...]) -> list[Job]:
    now = time.time()
    out = []
    for asset in assets:
        for tf in tfs:
            newest = pager.newest_closed(now, tf)
            out.append(Job(asset, tf, pager.first_wanted(now - days * DAY, tf), newest))
    return out


def run(stack: Stack, jobs: list[Job], **settings: Any) -> Report:
    return trio.run(backfill, stack.settings(**settings), jobs)


def check_series(stack: Stack, job: Job) -> None:
    """Every candle from the first to the newest, once, equal to the path; the volume is its ticks."""
    rows = file_rows(stack.data, job.asset, job.period)
    times = file_times(stack.data, job.asset, job.period)
    assert len(times) == len(set(times)), "a candle was written twice"
    wanted = [t for t in times if job.first <= t <= job.newest]  # an earlier run may reach further back
    assert sorted(wanted) == list(range(job.first, job.newest + job.period, job.period)), "a gap"
    truth = recomputed(stack.feed(), job.asset, job.period, job.first, job.newest)
    for t, row in zip(times, rows, strict=True):
        if not job.first <= t <= job.newest:
            continue
        o, h, lo, c, n = truth[t]
        assert [float(x) for x in row[1:5]] == [o, h, lo, c], (job, t)
        assert row[5:] == ["0", str(n), "1"], (job, t)  # no ticks of ours, the broker's volume, whole


def live_minutes(stack: Stack, asset: str) -> dict[int, tuple[float, float, float, float, int]]:
    """One-minute candles of the live ticks ingest published, whole minutes only."""
    ticks = [
        (r.ts, r.price)
        for p in range(4)
        for r in stack.bus.records(p)
        if isinstance(r, Tick) and r.asset == asset
    ]
    by: dict[int, list[float]] = {}
    for t, p in sorted(ticks):
        by.setdefault(int(t // 60 * 60), []).append(p)
    inner = sorted(by)[1:-1]  # the first and last minutes were seen in part
    return {b: (by[b][0], max(by[b]), min(by[b]), by[b][-1], len(by[b])) for b in inner}


def test_two_days_of_1m_and_5m_for_two_assets_equal_the_path_and_a_second_run_adds_only_the_new(
    stack: Stack,
) -> None:
    jobs = jobs_back(2, ASSET_NAMES, (60, 300))
    started = time.monotonic()
    report = run(stack, jobs)
    spent = time.monotonic() - started
    assert report.failed == {}
    for job in jobs:
        check_series(stack, job)
    assert sum(report.written.values()) == sum((j.newest - j.first) // j.period + 1 for j in jobs)
    print(f"backfilled {sum(report.written.values())} candles in {spent:.1f} s, {report.pages} pages")
    # Once the live capture has seen a whole minute, run again: only the minutes since are asked
    # for, nothing is written twice, and the minute seen live is the broker's candle exactly.
    wait_until(lambda: live_minutes(stack, ASSET_NAMES[0]), guard=150, what="a whole minute seen live")
    later = jobs_back(2, ASSET_NAMES, (60, 300))
    again = run(stack, later)
    assert again.failed == {} and again.pages <= len(later) + 1  # one page each, and the clock probe
    for job in later:
        check_series(stack, job)
    times = file_times(stack.data, ASSET_NAMES[0], 60)
    rows = dict(zip(times, file_rows(stack.data, ASSET_NAMES[0], 60), strict=True))
    live = live_minutes(stack, ASSET_NAMES[0])
    assert set(live) <= set(rows)
    for t, (o, h, lo, c, n) in live.items():
        assert [float(x) for x in rows[t][1:5]] == [o, h, lo, c] and int(rows[t][6]) == n


def test_too_fast_for_the_broker_recovers_by_asking_again(strict_stack: Stack) -> None:
    stack = strict_stack
    # The simulator drops requests closer than 0.3 s to the one before. With no pace of ours the
    # next page goes out as soon as an answer is in, gets no answer, and is asked again later.
    jobs = jobs_back(0.5, ASSET_NAMES[:1], (60,))
    report = run(stack, jobs, bridge_pace=0.0, backfill_timeout=1.0, backfill_retries=4)
    assert report.failed == {}
    assert report.retries >= 1
    check_series(stack, jobs[0])
