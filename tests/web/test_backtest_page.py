"""Collected data and backtests from the page, in a real Chromium, against the real gateway and
backtest service; the page's metrics must equal the command line's for the same request."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.bus.records import Candle
from tests.conftest import free_port
from tests.web.helpers import ROOT, Gateway, Page, served_gateway, walk

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ASSET = "EURUSD_otc"
DATASET = "EURUSD_otc-1m"


@pytest.fixture
def candles(test_env: dict[str, str]) -> list[Candle]:
    """A collected 1-minute dataset on disk, in the layout the persistence service writes."""
    start = 1_795_000_000 - 1_795_000_000 % 60
    rows = walk(ASSET, 60, 300, start, seed=5)
    folder = Path(test_env["QF_DATA_DIR"]) / "realtime_stream" / "1M_candle_data"
    folder.mkdir(parents=True)
    with (folder / f"{ASSET}_1M_20261122T030500Z_0000.csv").open("w") as f:
        f.write("timestamp,open,high,low,close,ticks\n")
        for c in rows:
            ts = datetime.fromtimestamp(c.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            f.write(f"{ts},{c.open},{c.high},{c.low},{c.close},{c.ticks}\n")
    return rows


@pytest.fixture
def backtest_service(test_env: dict[str, str], tmp_path: Path, candles: object) -> Iterator[str]:
    port = free_port()
    env = {**test_env, "QF_BACKTEST_PORT": str(port)}
    with (tmp_path / "backtest.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.backtest"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "backtest.log").read_text()[-3000:])
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def gateway(test_env: dict[str, str], tmp_path: Path, backtest_service: str) -> Iterator[Gateway]:
    with served_gateway({**test_env, "QF_BACKTEST_URL": backtest_service}, tmp_path) as gw:
        yield gw


def cli_metrics(test_env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "services.qf", "backtest", DATASET, *args, "--json"],
        cwd=ROOT,
        env=test_env,
        capture_output=True,
        text=True,
        check=True,
    )
    metrics = json.loads(out.stdout)["results"][0]["metrics"]
    return {k: v for k, v in metrics.items() if v is None or isinstance(v, int | float | str | bool)}


def test_csv_mode_shows_the_datasets_own_candles(gateway: Gateway, page: Page, candles: list[Candle]) -> None:
    # Nothing on the live side: whatever the chart shows comes from the dataset's file.
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="provider-select", value="csv")
    first = datetime.fromtimestamp(candles[0].time, UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(candles[-1].time, UTC).strftime("%Y-%m-%d %H:%M")
    page.wait("dataset-table", matches=rf"{ASSET}\s+1 minute\s+{len(candles)}\s+{first}\s+{last}")
    assert page.do("options", testid="asset-select") == [ASSET]
    page.wait("timeframe-select", attr="value", equals="60")
    assert page.do("options", testid="timeframe-select") == ["60"]
    page.wait("last-price", attr="data-value", equals=repr(candles[-1].close))
    page.wait("candle-count", matches=rf"^{len(candles)} candles$")
    page.wait("chart", attr="data-last-time", equals=str(candles[-1].time))
    assert page.do("count", testid="data-note") == 0  # not the live fallback
    assert page.do("count", testid="live-badge") == 0  # collected data is never shown as live
    page.shot("csv-mode")


def test_backtest_from_the_page_matches_the_cli(
    gateway: Gateway, page: Page, test_env: dict[str, str]
) -> None:
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    page.do("fill", testid="param-fast", value="3")
    page.do("fill", testid="param-slow", value="8")
    # A second strategy beside it, with its defaults.
    page.do("check", testid="strategy-pick-rsi_reversal", checked=True)
    page.do("click", testid="backtest-run")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=60)
    page.shot("backtest-results")

    cells = page.do("attrs", selector='[data-testid="backtest-metrics"] td[data-metric]')
    shown: dict[str, dict[str, object]] = {}
    for cell in cells:
        shown.setdefault(cell["data-strategy"], {})[cell["data-metric"]] = json.loads(cell["data-value"])
    assert shown["sma_cross"] == cli_metrics(
        test_env, "--strategy", "sma_cross", "-p", "fast=3", "-p", "slow=8"
    )
    assert shown["rsi_reversal"] == cli_metrics(test_env, "--strategy", "rsi_reversal")
    assert shown["sma_cross"]["trades"] > 0
    assert page.do("count", testid="equity-chart") == 1
    assert page.do("count", testid="backtest-trades") == 1

    # The trades shown are drawn on the dataset's own candles in the chart page's CSV mode.
    page.wait("backtest-chart", attr="data-trades", equals=str(shown["sma_cross"]["trades"]))
    page.do("click", testid="page-chart")
    page.do("select", testid="provider-select", value="csv")
    page.wait("chart", attr="data-trades", equals=str(shown["sma_cross"]["trades"]), timeout=30)
    page.wait("candle-count", matches=r"^300 candles$")
    page.shot("csv-mode-backtest-trades")
