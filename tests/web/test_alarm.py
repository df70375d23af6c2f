"""The protocol alarm on the whole real path: the simulated broker changes its protocol in a
headless Chromium → CDP → ingest → Redis → gateway → the web app's status bar in another Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantumflux.ingest.chrome import Chromium
from quantumflux.ingest.decode import SUGGESTION
from quantumflux.sim.drills import DRIFT_ENV, UNKNOWN_EVENT
from tests.ingest.stack import Bus, IngestProcess, close_pages, wait_until
from tests.ingest.test_payouts_published import Sim
from tests.web.helpers import Page, chrome_bin, served_gateway

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# The ingest service looks at the decoder's findings at least this often (seconds).
ALARM_WITHIN = 10.0


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    """The headless Chromium that shows the simulated broker, as the trader's Chrome would."""
    if chrome_bin() is None:
        pytest.skip("Chromium is not installed")
    browser = Chromium(user_data_dir=tmp_path / "profile")
    try:
        yield browser.start()
    finally:
        browser.close()


def sim_said(sim_log: Path, words: str) -> bool:
    return words in sim_log.read_text(errors="replace")


def test_a_changed_protocol_reaches_the_events_and_the_status_bar(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path, page: Page
) -> None:
    sim = Sim(tmp_path, **{DRIFT_ENV: "3"})
    bus = Bus(redis_url, prefix)
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        with served_gateway(test_env, tmp_path) as gateway:
            page.do("open", url=gateway.url)
            page.wait("connection-status", attr="data-state", equals="connected")
            wait_until(lambda: bus.tick_count() >= 4, what="ticks from the simulated broker")
            assert page.do("count", testid="protocol-alarm") == 0  # nothing changed yet

            wait_until(lambda: sim_said(tmp_path / "sim.log", "sending an unknown event"), what="the change")
            sent = time.monotonic()
            [report] = wait_until(lambda: bus.events("report"), guard=ALARM_WITHIN, what="the report")
            assert time.monotonic() - sent <= ALARM_WITHIN
            assert report.data["report"] == "protocol" and report.data["suggestion"] == SUGGESTION
            changed = {f["event"] for f in report.data["findings"]}
            assert {UNKNOWN_EVENT, "updateStream"} <= changed, changed

            page.wait("protocol-alarm", matches="Protocol changed")
            page.wait("protocol-summary", matches="The broker's protocol changed")
            page.wait("protocol-suggestion", equals=SUGGESTION)
            page.shot("protocol-alarm")
            # Reported once: the same changes seen again are counted, not reported again.
            wait_until(lambda: bus.tick_count() >= 12, what="more ticks")
            assert len(bus.events("report")) == 1
    finally:
        code = ingest.stop()
        close_pages(chromium.http_url, sim.page)
        sim.stop()
        bus.close()
    assert code == 0, ingest.output()


def test_a_normal_run_of_the_simulated_broker_raises_no_alarm(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    sim = Sim(tmp_path)
    bus = Bus(redis_url, prefix)
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        # Login, asset list, balance, the page's chart history and a stream of ticks.
        wait_until(lambda: bus.events("history_loaded") and bus.tick_count() >= 12, what="a normal session")
        assert bus.events("assets") and bus.events("platform_state")
    finally:
        code = ingest.stop()  # the service looks at its findings a last time as it stops
        close_pages(chromium.http_url, sim.page)
        sim.stop()
    try:
        assert code == 0, ingest.output()
        assert [e.data.get("state") for e in bus.events("service_status")][-1] == "stopped"
        assert bus.events("report") == []
    finally:
        bus.close()
