"""``qf backfill`` and ``qf collect`` as a trader runs them, killed, cut off and asked the impossible."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantumflux.backfill import pager
from tests.backfill.conftest import ASSET_NAMES, Stack, file_rows, file_times, recomputed
from tests.ingest.stack import ROOT, wait_until

pytestmark = pytest.mark.browser

DAY = 86400


def start(stack: Stack, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", *args], cwd=ROOT, env=stack.cli_env(**env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str], guard: float = 120) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=guard)
    return proc.returncode, out, err


def rows_written(stack: Stack, asset: str, tf: int) -> int:
    return len(file_times(stack.data, asset, tf))


def candle(row: list[str]) -> tuple[float | int, ...]:
    """A file row as the recomputed path has it: open, high, low, close and the broker's volume."""
    return (*(float(x) for x in row[1:5]), int(row[6]))


def check_whole(stack: Stack, asset: str, since: float, until: float) -> list[int]:
    """One-minute candles with no gap and none twice, from ``since`` (UTC) to ``until``, as the path has them."""
    times = file_times(stack.data, asset, 60)
    assert len(times) == len(set(times)), "a candle was written twice"
    assert sorted(times) == list(range(min(times), max(times) + 60, 60)), "a gap"
    assert min(times) <= pager.first_wanted(since, 60) and max(times) >= pager.newest_closed(until, 60)
    truth = recomputed(stack.feed(), asset, 60, min(times), max(times))
    rows = dict(zip(times, file_rows(stack.data, asset, 60), strict=True))
    assert {t: candle(r) for t, r in rows.items()} == truth
    return times


def test_killed_mid_backfill_then_run_again_leaves_no_gap_and_no_duplicate(stack: Stack) -> None:
    asset = ASSET_NAMES[1]
    proc = start(stack, "backfill", asset, "--days", "1", "--pace", "0.6")
    try:
        wait_until(lambda: rows_written(stack, asset, 60) >= 300, what="a few pages written")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    held = rows_written(stack, asset, 60)
    assert 300 <= held < 1440, "killed before the end"
    before = time.time()
    code, out, err = finish(start(stack, "backfill", asset, "--days", "1", "--pace", "0.1"))
    assert code == 0, err
    assert f"{asset}-60:" in out
    check_whole(stack, asset, time.time() - DAY, before)


def test_the_page_reconnecting_mid_backfill_loses_nothing(stack: Stack) -> None:
    asset = ASSET_NAMES[0]
    proc = start(stack, "backfill", asset, "--days", "1", "--pace", "0.4")
    try:
        wait_until(lambda: rows_written(stack, asset, 60) >= 300, what="a few pages written")
        # The page asks the broker to disconnect; the broker closes the socket, the page reconnects.
        stack.js("window.__qfOld = ws; ws.send('41'); 1")
        assert proc.poll() is None, "the backfill ended before the socket closed"
        wait_until(lambda: stack.js("window.__qfOld !== ws && ws.readyState === 1"), what="a new socket")
        code, _out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert stack.js("window.__qfOld.readyState") == 3  # the old socket really is closed
    check_whole(stack, asset, time.time() - DAY, time.time() - 120)


def test_an_asset_the_broker_does_not_answer_for_gets_a_clear_error(stack: Stack) -> None:
    proc = start(
        stack, "backfill", "NOPE_otc", ASSET_NAMES[0], "--days", "0.05",
        QF_BACKFILL_TIMEOUT="1", QF_BACKFILL_RETRIES="1",
    )  # fmt: skip
    code, out, err = finish(proc)
    assert code == 1
    assert "the broker does not answer for 'NOPE_otc'" in err
    assert f"Assets it lists: {ASSET_NAMES[0]}, {ASSET_NAMES[1]}" in err
    # The asset it knows is filled all the same.
    assert f"{ASSET_NAMES[0]}-60:" in out and rows_written(stack, ASSET_NAMES[0], 60) >= 70


def test_collect_writes_the_four_timeframes_top_down(stack: Stack) -> None:
    code, _out, err = finish(start(stack, "collect", "--assets", ",".join(ASSET_NAMES), "--candles", "20"))
    assert code == 0, err
    feed = stack.feed()
    for tf in (3600, 900, 300, 60):
        for asset in ASSET_NAMES:
            times = file_times(stack.data, asset, tf)
            assert len(times) == 20 and times == list(range(times[0], times[0] + 20 * tf, tf)), (asset, tf)
            truth = recomputed(feed, asset, tf, times[0], times[-1])
            rows = file_rows(stack.data, asset, tf)
            assert [candle(r) for r in rows] == [truth[t] for t in times]
    folders = sorted(p.name for p in (stack.data / "data_collect").iterdir())
    assert folders == ["15M_candles", "1H_candles", "1M_candles", "5M_candles"]
    # Top down: the hourly candles were asked for first, the minutes last.
    mtime = {
        tf: max(p.stat().st_mtime for p in (stack.data / "data_collect" / tf).iterdir()) for tf in folders
    }
    assert mtime["1H_candles"] <= mtime["15M_candles"] <= mtime["5M_candles"] <= mtime["1M_candles"]
    assert not [p for p in Path(stack.data).rglob("*") if p.is_file() and os.path.getsize(p) == 0]
