"""History on demand from the web app, end to end: the simulated broker in a real headless
Chromium, the real ingest worker on Redis, a real gateway, and the web app in another real
Chromium. "Get history" runs ``qf backfill`` through the broker's page, the page shows how it
goes, the files appear in ``data_collect``, and the live chart scrolls back into them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantumflux.backfill import pager
from quantumflux.bus.records import Candle
from quantumflux.ingest.chrome import Chromium
from tests.backfill.conftest import (
    ASSET_NAMES,
    Stack,
    file_rows,
    file_times,
    recomputed,
    start_stack,
    stop_stack,
)
from tests.web.helpers import Bus, Gateway, Page, probe_url, served_gateway

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ASSET = ASSET_NAMES[0]
LIVE = 30  # closed minutes in the live series, as the candle service would have kept them
DAY = 86400


@pytest.fixture
def stack(chromium: Chromium, test_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    s, ingest = start_stack(chromium, test_env, tmp_path)
    try:
        yield s
    finally:
        code = stop_stack(s, ingest)
    assert code == 0, ingest.output()


def live_series(stack: Stack, bus: Bus) -> list[Candle]:
    """The last closed minutes of the broker's price path, published as the candle service does."""
    newest = pager.newest_closed(time.time(), 60)
    first = newest - (LIVE - 1) * 60
    truth = recomputed(stack.feed(), ASSET, 60, first, newest)
    out = [Candle(ASSET, 60, t, *truth[t][:4], truth[t][4], True) for t in sorted(truth)]
    for c in out:
        bus.candle(c)
    return out


@pytest.fixture
def gateway(stack: Stack, test_env: dict[str, str], tmp_path: Path) -> Iterator[Gateway]:
    env = test_env | {"QF_CHROME_URL": stack.chrome, "QF_BRIDGE_PACE": "0.1", "QF_BACKFILL_TIMEOUT": "5"}
    with served_gateway(env, tmp_path) as gw:
        yield gw


def ohlc(c: dict[str, float]) -> tuple[float, ...]:
    return (c["open"], c["high"], c["low"], c["close"])


def scroll_to_the_start(page: Page, guard: float = 120) -> None:
    """Drag the chart back, as a trader does, until it says where history starts."""
    deadline = time.monotonic() + guard
    while page.do("count", testid="history-start") == 0:
        assert time.monotonic() < deadline, "the chart never reached the start of history"
        page.do("chart_drag", testid="chart", dx=1000)


def test_get_history_from_the_page_writes_the_files_and_the_chart_scrolls_back_into_them(
    stack: Stack, bus: Bus, gateway: Gateway, page: Page
) -> None:
    live = live_series(stack, bus)
    page.do("open", url=probe_url(gateway.url))
    page.wait("connection-status", attr="data-state", equals="connected")
    page.wait("asset-select", attr="value", notEquals="", timeout=30)
    page.do("select", testid="asset-select", value=ASSET)
    page.do("select", testid="timeframe-select", value="60")
    page.wait_chart_candles(live)
    # Nothing on disk yet: history starts with the live series, and the chart says so.
    page.wait("history-start", attr="data-time", equals=str(live[0].time))

    started = time.time()
    page.do("select", testid="history-depth", value="1")
    page.do("click", testid="history-button")
    page.wait("history-status", attr="data-state", equals="running")
    page.wait("history-status", attr="data-state", equals="done", timeout=180)
    times = file_times(stack.data, ASSET, 60)
    assert times and len(times) == len(set(times)), "a candle was written twice"
    assert min(times) <= pager.first_wanted(started - DAY, 60)
    assert max(times) >= live[-1].time
    # The page told how far it got: every candle written, back to the oldest.
    assert page.do("read", testid="history-status", attr="data-candles") == str(len(times))
    assert page.do("read", testid="history-status", attr="data-reached") == str(min(times))
    page.shot("history-fetched")

    scroll_to_the_start(page)
    page.shot("history-scrolled-back")
    assert page.do("read", testid="history-start", attr="data-time") == str(min(times))
    shown = page.chart_candles() or []
    held = [c["time"] for c in shown]
    assert held == sorted(set(held)), "the chart holds a time twice or out of order"
    files = {
        int(t): tuple(float(x) for x in row[1:5])
        for t, row in zip(times, file_rows(stack.data, ASSET, 60), strict=True)
    }
    older = [c for c in shown if c["time"] < live[0].time]
    assert [c["time"] for c in older] == sorted(t for t in files if t < live[0].time)
    assert {c["time"]: ohlc(c) for c in older} == {t: files[t] for t in held if t < live[0].time}
    newer = [c for c in shown if c["time"] >= live[0].time]
    assert [(c["time"], ohlc(c)) for c in newer] == [(c.time, (c.open, c.high, c.low, c.close)) for c in live]
