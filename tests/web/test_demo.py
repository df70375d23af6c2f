"""The whole real path, as a user sees it: ``qf demo`` (simulated broker in a headless Chromium →
CDP → ingest → Redis → candles → gateway) and the web app in another real Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis

from quantumflux.bus.health import read_heartbeats
from quantumflux.bus.keys import Keys
from tests.conftest import free_port
from tests.web.helpers import ROOT, Page, chrome_bin, ensure_web_built

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


@dataclass
class Demo:
    proc: subprocess.Popen[bytes]
    url: str  # the web app
    cdp: str  # the demo's own Chromium, showing the simulated broker
    sim: str  # the simulated broker's page
    log: Path

    def gateway_pid(self) -> int:
        """The gateway child of this demo (only processes this test started are looked at)."""
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                cmd = child.cmdline()
            except psutil.Error:
                continue
            if cmd[-2:] == ["quantumflux.qf", "gateway"] or (cmd[-1:] == ["gateway"] and "quantumflux.qf" in cmd):
                return child.pid
        raise AssertionError("no gateway process under the demo")


@pytest.fixture
def demo(test_env: dict[str, str], tmp_path: Path) -> Iterator[Demo]:
    if chrome_bin() is None:
        pytest.skip("Chromium is not installed")
    ensure_web_built()
    gw, bt = free_port(), free_port()
    env = {
        **test_env,
        "QF_GATEWAY_PORT": str(gw),
        "QF_BACKTEST_PORT": str(bt),
        "QF_BACKTEST_URL": f"http://127.0.0.1:{bt}",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.qf", "demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        cdp = sim = None
        while time.monotonic() < deadline and not (cdp and sim):
            text = log.read_text(errors="replace")
            m = re.search(r"Simulated broker: (http://\S+/)\s.*over CDP at (http://[\d.:]+)", text)
            if m:
                sim, cdp = m.group(1), m.group(2)
            assert proc.poll() is None, f"qf demo stopped:\n{text[-3000:]}"
            time.sleep(0.2)
        assert cdp and sim, f"qf demo did not start:\n{log.read_text()[-3000:]}"
        url = f"http://127.0.0.1:{gw}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield Demo(proc, url, cdp, sim, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def sim_pick(page: Page, demo: Demo, testid: str, value: str) -> None:
    """Pick in the simulated broker's own page, as a user would in PocketOption."""
    page.do("remote_select", cdp=demo.cdp, urlPrefix=demo.sim, testid=testid, value=value)


def price_matches_simulator(page: Page, demo: Demo, timeout: float = 30) -> float:
    """Wait until the chart's last price is the simulator's latest tick (it ticks twice a second)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        sim = page.do("remote_read", cdp=demo.cdp, urlPrefix=demo.sim, testid="sim-price")
        shown = page.do("read", testid="last-price", attr="data-value")
        if shown and sim not in ("", "–") and float(shown) == float(sim):
            return float(shown)
        seen.append((sim, shown))
        time.sleep(0.1)
    raise AssertionError(f"last price never equalled the simulator's: {seen[-10:]}")


def test_demo_end_to_end(demo: Demo, page: Page, test_env: dict[str, str]) -> None:
    page.do("open", url=demo.url)
    page.wait("connection-status", attr="data-state", equals="connected", timeout=20)
    page.wait("chrome-status", attr="data-state", equals="connected", timeout=30)
    page.wait("live-badge", attr="data-live", equals="true", timeout=30)
    page.wait("asset-select", attr="value", matches=r"\S", timeout=30)
    page.wait("timeframe-select", attr="value", matches=r"^\d+$", timeout=30)
    assets = page.do("options", testid="asset-select")
    assert "EURUSD_otc" in assets and "GBPUSD_otc" in assets
    assert {"60", "300"} <= set(page.do("options", testid="timeframe-select"))

    # Live chart: the newest close is the simulator's latest tick of that asset.
    sim_pick(page, demo, "sim-asset", "EURUSD_otc")
    page.do("select", testid="asset-select", value="EURUSD_otc")
    page.do("select", testid="timeframe-select", value="60")
    price_matches_simulator(page, demo)
    page.wait("candle-count", matches=r"^[1-9]\d* candles$")
    page.shot("demo-live-eurusd-1m")

    # The trader opens the chart in the same Chrome as the broker: QuantumFlux leaves its own
    # chart's connection alone (ingest sees its frames and ignores them) and ticks keep coming.
    tab = httpx.put(f"{demo.cdp}/json/new?{demo.url}", timeout=10).json()
    try:
        client = redis.Redis.from_url(test_env["QF_REDIS_URL"])

        def ingest_beat() -> dict[str, Any]:
            beats = read_heartbeats(client, Keys(test_env["QF_PREFIX"]))
            return next((b for b in beats if b.get("service") == "ingest"), {})

        before = ingest_beat()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and ingest_beat().get("ignored_frames", 0) <= before.get(
            "ignored_frames", 0
        ):
            time.sleep(0.5)
        after = ingest_beat()
        assert after.get("ignored_frames", 0) > before.get("ignored_frames", 0), after
        assert after["ticks"] > before["ticks"] and after["malformed"] == before["malformed"]
        client.close()
    finally:
        httpx.get(f"{demo.cdp}/json/close/{tab['id']}", timeout=10)

    # Switching asset and timeframe: that stream's candles, the simulator's price for that asset.
    sim_pick(page, demo, "sim-asset", "GBPUSD_otc")
    page.do("select", testid="asset-select", value="GBPUSD_otc")
    page.do("select", testid="timeframe-select", value="300")
    page.wait("chart", attr="data-asset", equals="GBPUSD_otc")
    price_matches_simulator(page, demo)
    last = int(page.wait("chart", attr="data-last-time", matches=r"^\d+$"))
    assert last % 300 == 0  # a 5-minute candle opens on a 5-minute boundary
    page.shot("demo-live-gbpusd-5m")

    # Follow PocketOption: picking on the broker's page moves the chart.
    page.do("check", testid="follow-platform", checked=True)
    sim_pick(page, demo, "sim-asset", "AUDCAD_otc")
    page.wait("asset-select", attr="value", equals="AUDCAD_otc", timeout=20)
    sim_pick(page, demo, "sim-timeframe", "60")
    page.wait("timeframe-select", attr="value", equals="60", timeout=20)
    price_matches_simulator(page, demo)
    page.shot("demo-follow-audcad-1m")
    page.do("check", testid="follow-platform", checked=False)

    # The gateway dies: the page stops claiming live data; the demo restarts it and the page recovers.
    os.kill(demo.gateway_pid(), signal.SIGKILL)
    page.wait("connection-status", attr="data-state", equals="disconnected", timeout=10)
    page.wait("live-badge", attr="data-live", equals="false", timeout=5)
    page.shot("demo-gateway-down")
    page.wait("connection-status", attr="data-state", equals="connected", timeout=40)
    page.wait("redis-status", attr="data-state", equals="connected", timeout=30)
    page.wait("chrome-status", attr="data-state", equals="connected", timeout=30)
    page.wait("live-badge", attr="data-live", equals="true", timeout=30)
    page.wait("status-banner", attr="data-kind", equals="recovered", timeout=10)
    price_matches_simulator(page, demo)
    page.shot("demo-gateway-back")

    # A backtest from the page gives the command line's metrics for the same request.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.get(f"{demo.url}/api/datasets", timeout=10).json()
        ids = [d["id"] for d in body.get("datasets", [])]
        if "EURUSD_otc-1m" in ids:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"no EURUSD_otc 1m data was collected: {body}")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    for cell in page.do("attrs", selector='[data-testid="backtest-datasets"] input'):
        page.do(
            "eval_check",
            selector=f'[data-testid="backtest-datasets"] input[value="{cell["value"]}"]',
            checked=cell["value"] == "EURUSD_otc-1m",
        )
    page.do("fill", testid="param-fast", value="2")
    page.do("fill", testid="param-slow", value="4")
    # The demo keeps collecting while this runs: a new candle may land between two runs, so the
    # command line runs just before and just after the page, and the page must equal one of them.
    before = cli_metrics(test_env)
    page.do("click", testid="backtest-run")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=60)
    after = cli_metrics(test_env)
    page.shot("demo-backtest")
    cells = page.do("attrs", selector='[data-testid="backtest-metrics"] td[data-metric]')
    shown = {c["data-metric"]: json.loads(c["data-value"]) for c in cells}
    assert shown in (before, after)
    assert shown["trades"] == shown["wins"] + shown["losses"] + shown["ties"]


def cli_metrics(env: dict[str, str]) -> dict[str, object]:
    """``qf backtest`` of the same request as the page's, its headline metrics."""
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "backtest", "EURUSD_otc-1m", "--strategy", "sma_cross",
         "-p", "fast=2", "-p", "slow=4", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    metrics = json.loads(out.stdout)["results"][0]["metrics"]
    return {k: v for k, v in metrics.items() if v is None or isinstance(v, int | float | str | bool)}
