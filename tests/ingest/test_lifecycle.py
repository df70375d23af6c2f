"""Lifecycle, end to end: page reload, a new tab, Chromium killed and restarted, Redis away for 5 s."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantumflux.ingest.chrome import Chromium
from tests.conftest import free_port
from tests.ingest.stack import (
    Bus,
    IngestProcess,
    SimProcess,
    all_sent_arrived,
    browser_call,
    by_asset,
    close_pages,
    page_call,
    pick_on_page,
    wait_until,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    # A fixed port, so a restarted browser is found at the same address.
    browser = Chromium(port=free_port(), user_data_dir=tmp_path_factory.mktemp("profile"))
    try:
        yield browser.start()
    finally:
        browser.close()


@pytest.fixture
def sim(tmp_path: Path, chromium: Chromium) -> Iterator[SimProcess]:
    s = SimProcess(tmp_path, seed=5, assets=2, rate=5.0)
    try:
        yield s
    finally:
        if chromium.proc is not None and chromium.proc.poll() is None:
            close_pages(chromium.http_url, s.page)
        s.stop()


def states(bus: Bus) -> list[tuple[str, str]]:
    return [(str(e.data.get("state")), str(e.data.get("reason"))) for e in bus.events("chrome_status")]


def test_reload_and_a_new_tab_are_captured_from_their_first_frame(
    chromium: Chromium, sim: SimProcess, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    bus = Bus(redis_url, prefix)
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        wait_until(lambda: bus.tick_count() >= 10, what="ticks")
        assets = sorted({t[0] for t in sim.ticks()})

        # Reload: a new socket; what the page asks for right after loading is seen again.
        picks_before = len(bus.events("platform_state"))
        page_call(chromium.http_url, sim.page, "Page.reload")
        reloaded = time.time()
        wait_until(lambda: len(bus.events("platform_state")) > picks_before, what="selection after reload")
        wait_until(
            lambda: len([t for t in sim.ticks() if t[1] > reloaded + 1.0]) >= 10, what="ticks after reload"
        )
        wait_until(
            lambda: all_sent_arrived(sim, bus, since=reloaded + 1.0), what="ticks after reload in Redis"
        )

        # A new tab: its very first frames (handshake, asset list, its own selection) are captured.
        pick_on_page(chromium.http_url, sim.page, assets[1], 300)
        wait_until(lambda: bus.events("platform_state")[-1].data.get("period") == 300, what="the pick")
        n_assets = len(bus.events("assets"))
        opened = time.time()
        tab = browser_call(chromium.http_url, "Target.createTarget", {"url": sim.page})["targetId"]
        wait_until(lambda: len(bus.events("assets")) > n_assets, what="the new tab's asset list")
        wait_until(
            lambda: any(
                e.ts >= opened - 1 and e.data.get("period") == 60 for e in bus.events("platform_state")
            ),
            what="the new tab's first selection",
        )
        wait_until(
            lambda: len([t for t in sim.ticks() if t[1] > opened + 1.0]) >= 10, what="ticks with two tabs"
        )
        browser_call(chromium.http_url, "Target.closeTarget", {"targetId": tab})
        wait_until(lambda: all_sent_arrived(sim, bus, since=reloaded + 1.0), what="every tick in Redis")
        # Both tabs get every tick; the market saw each once, so it is published once.
        for asset, rows in bus.ticks().items():
            assert len(rows) == len(set(rows)), f"{asset} has repeated ticks"
        assert states(bus)[0][0] == "connected"
    finally:
        ingest.stop()
        bus.close()


def test_chromium_killed_and_restarted_capture_resumes(
    chromium: Chromium, sim: SimProcess, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    bus = Bus(redis_url, prefix)
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        wait_until(lambda: bus.tick_count() >= 10, what="ticks")
        chromium.kill()
        wait_until(lambda: any(s == "disconnected" for s, _ in states(bus)), what="disconnected status")
        time.sleep(1.0)
        chromium.start()  # same port, new browser (new debugger URL), only about:blank open
        restarted = time.time()
        wait_until(lambda: any(s == "reconnected" for s, _ in states(bus)), what="reconnected status")
        # Ingest opens the broker page again by itself; ticks flow again.
        wait_until(lambda: len([t for t in sim.ticks() if t[1] > restarted + 1.0]) >= 10, what="ticks after")
        wait_until(
            lambda: all_sent_arrived(sim, bus, since=restarted + 1.0), what="ticks after restart in Redis"
        )
        seq = states(bus)
        assert [s for s, _ in seq][:3] == ["connected", "disconnected", "reconnected"]
        assert "closed" in seq[1][1] or "reach" in seq[1][1]
        assert "back after" in seq[2][1]
    finally:
        ingest.stop()
        bus.close()


def test_redis_away_for_5_seconds_loses_no_tick(
    chromium: Chromium,
    sim: SimProcess,
    test_env: dict[str, str],
    private_redis: Any,
    prefix: str,
    tmp_path: Path,
) -> None:
    env = dict(test_env, QF_REDIS_URL=private_redis.url, QF_REDIS_RETRY_MAX="0.5")
    bus = Bus(private_redis.url, prefix)
    ingest = IngestProcess(env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        wait_until(lambda: bus.tick_count() >= 10, what="ticks")
        private_redis.stop()
        sent_before = len(sim.ticks())
        time.sleep(5.0)
        assert len(sim.ticks()) > sent_before + 20  # the market went on meanwhile
        private_redis.start()
        wait_until(lambda: len(sim.ticks()) > sent_before + 80, what="more ticks")
        truth = by_asset(sim.ticks())

        def caught_up() -> bool:
            try:
                got = bus.ticks()
            except Exception:
                return False
            return all(len(got.get(a, [])) >= len(rows) for a, rows in truth.items())

        wait_until(caught_up, what="the buffered ticks")
        got = bus.ticks()
        for asset, rows in truth.items():
            assert got[asset][: len(rows)] == rows  # none lost, none doubled, in order
        service = [e.data.get("state") for e in bus.events("service_status")]
        assert "degraded" in service and "recovered" in service
    finally:
        ingest.stop()
        bus.close()
