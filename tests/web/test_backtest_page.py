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
from typing import Any

import httpx
import pytest

from quantumflux.bus.records import Candle
from tests.conftest import free_port
from tests.web.helpers import ROOT, Gateway, Page, probe_url, served_gateway, walk

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
            [sys.executable, "-m", "quantumflux.backtest"], cwd=ROOT, env=env, stdout=log, stderr=log
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
        [sys.executable, "-m", "quantumflux.qf", "backtest", DATASET, *args, "--json"],
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
    page.do("open", url=probe_url(gateway.url))
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="provider-select", value="csv")
    first = datetime.fromtimestamp(candles[0].time, UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(candles[-1].time, UTC).strftime("%Y-%m-%d %H:%M")
    page.wait("dataset-table", matches=rf"{ASSET}\s+1 minute\s+{len(candles)}\s+{first}\s+{last}")
    assert page.do("options", testid="asset-select") == [ASSET]
    page.wait("timeframe-select", attr="value", equals="60")
    # The minutes on disk, then every timeframe derived from them.
    assert page.do("options", testid="timeframe-select")[0] == "60"
    assert {"300", "3600"} <= set(page.do("options", testid="timeframe-select"))
    page.wait("last-price", attr="data-value", equals=repr(candles[-1].close))
    page.wait("candle-count", matches=rf"^{len(candles)} candles$")
    page.wait("chart", attr="data-last-time", equals=str(candles[-1].time))
    page.wait_chart_candles(candles)  # the chart holds the file's candles, every one as written
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
    made = shown["sma_cross"]["trades"]
    assert isinstance(made, int) and made > 0
    assert page.do("count", testid="equity-chart") == 1
    assert page.do("count", testid="backtest-trades") == 1

    # The trades shown are drawn on the dataset's own candles in the chart page's CSV mode.
    page.wait("backtest-chart", attr="data-trades", equals=str(shown["sma_cross"]["trades"]))
    page.do("click", testid="page-chart")
    page.do("select", testid="provider-select", value="csv")
    page.wait("chart", attr="data-trades", equals=str(shown["sma_cross"]["trades"]), timeout=30)
    page.wait("candle-count", matches=r"^300 candles$")
    page.shot("csv-mode-backtest-trades")


def _job(gateway: Gateway, job_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{gateway.url}/api/backtests/jobs/{job_id}", timeout=10)
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def _expected_markers(trades: list[dict[str, Any]]) -> tuple[list[list[object]], list[list[object]]]:
    """What the chart must hold for these trades: entries (time, arrow) and expiries (time, result)."""
    entries = [[t["entry_time"], "arrowUp" if t["direction"] > 0 else "arrowDown"] for t in trades]
    results = {1: "won", -1: "lost", 0: "tie"}
    expiries = [[t["expiry_time"], results[t["outcome"]]] for t in trades]
    return entries, expiries


def _shown_markers(page: Page) -> tuple[list[list[object]], list[list[object]]]:
    """The markers the chart's marker plugin holds (entries, expiries), in the order of the trades."""
    raw = page.wait("backtest-chart", attr="data-probe-markers", matches=r"^\[", timeout=30)
    markers = json.loads(raw)
    by_id = {m["id"]: m for m in markers}
    n = sum(1 for m in markers if m["id"].startswith("entry-"))
    entries = [[by_id[f"entry-{i}"]["time"], by_id[f"entry-{i}"]["shape"]] for i in range(n)]
    expiries = [[by_id[f"expiry-{i}"]["time"], by_id[f"expiry-{i}"]["text"]] for i in range(n)]
    return entries, expiries


def _shown_rows(page: Page) -> list[list[object]]:
    rows = page.do("attrs", selector='[data-testid="trade-row"]')
    return [[int(r["data-time"]), r["data-side"], r["data-result"]] for r in rows]


def test_a_backtest_job_draws_every_trade_and_its_link_shows_it_again(gateway: Gateway, page: Page) -> None:
    page.do("open", url=probe_url(gateway.url))
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    page.do("fill", testid="param-fast", value="3")
    page.do("fill", testid="param-slow", value="8")
    page.do("click", testid="backtest-run")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=60)
    assert page.do("count", testid="backtest-progress") == 0  # the bar goes once the job is done

    link = page.do("read", testid="result-link", attr="href")
    assert link.startswith("#/backtests/")
    job_id = link.removeprefix("#/backtests/")
    job = _job(gateway, job_id)
    assert job["state"] == "done" and job["progress"]["fraction"] == 1
    assert job["request"]["params"] == {"fast": 3, "slow": 8}
    trades = job["result"]["results"][0]["trades"]
    assert len(trades) > 5
    entries, expiries = _expected_markers(trades)

    # Every trade on the chart: an arrow at its entry, its result at its expiry, times exact.
    assert _shown_markers(page) == (entries, expiries)
    assert {t["direction"] for t in trades} == {1, -1}  # both arrows were really compared
    page.wait("backtest-chart", attr="data-trades", equals=str(len(trades)))
    want_rows = [
        [t["entry_time"], "call" if t["direction"] > 0 else "put", r]
        for t, (_, r) in zip(trades, expiries, strict=True)
    ]
    assert _shown_rows(page) == want_rows
    page.shot("backtest-job-result")

    # The link, opened later in another page, shows the same result from the stored job.
    later = Page()
    try:
        later.do("open", url=f"{probe_url(gateway.url)}{link}")
        later.wait("backtest-metrics", attr="data-state", equals="done", timeout=30)
        assert _shown_markers(later) == (entries, expiries)
        assert _shown_rows(later) == want_rows
        assert later.do("read", testid="result-link", attr="href") == link
    finally:
        later.close()


def test_a_grid_job_shows_its_heat_map(gateway: Gateway, page: Page) -> None:
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    page.do("select", testid="backtest-kind", value="grid")
    page.do("fill", testid="range-fast", value="2:6:1")
    page.do("fill", testid="range-slow", value="10,14,18")
    page.do("click", testid="backtest-run")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=60)
    job_id = page.do("read", testid="result-link", attr="href").removeprefix("#/backtests/")
    heatmap = _job(gateway, job_id)["result"]["results"][0]["grid"]["heatmap"]
    assert (heatmap["x"], heatmap["y"]) == ("fast", "slow")

    cells = page.do("attrs", selector='[data-testid="heat-cell"]')
    shown = {(float(c["data-x"]), float(c["data-y"])): json.loads(c["data-value"]) for c in cells}
    want = {
        (float(x), float(y)): heatmap["values"][yi][xi]
        for yi, y in enumerate(heatmap["ys"])
        for xi, x in enumerate(heatmap["xs"])
    }
    assert len(want) == 15 and shown == want
    assert any(v is not None for v in want.values())
    page.shot("backtest-grid")


def _run_kind(page: Page, gateway: Gateway, kind: str, **fields: str) -> dict[str, Any]:
    """Run sma_cross as a job of ``kind`` from the page; the finished job as the service keeps it."""
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    page.do("select", testid="backtest-kind", value=kind)
    for testid, value in fields.items():
        page.do("fill", testid=testid.replace("_", "-"), value=value)
    page.do("click", testid="backtest-run")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=60)
    job = _job(gateway, page.do("read", testid="result-link", attr="href").removeprefix("#/backtests/"))
    assert job["kind"] == kind and job["state"] == "done", job.get("error")
    return job


def test_walk_forward_and_monte_carlo_jobs_are_plotted(gateway: Gateway, page: Page) -> None:
    job = _run_kind(
        page, gateway, "walk_forward", range_fast="2:6:2", range_slow="10,14", wf_train="100", wf_test="50"
    )
    windows = job["result"]["results"][0]["walk_forward"]["windows"]
    assert len(windows) >= 2
    page.wait("backtest-walk-forward", attr="data-windows", equals=str(len(windows)))
    page.shot("backtest-walk-forward")

    job = _run_kind(page, gateway, "monte_carlo", mc_runs="200")
    assert job["result"]["results"][0]["monte_carlo"]["runs"] == 200
    page.wait("backtest-monte-carlo", attr="data-runs", equals="200")
    page.shot("backtest-monte-carlo")


def test_a_long_sweep_shows_its_progress_and_can_be_cancelled(gateway: Gateway, page: Page) -> None:
    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="page-backtest")
    page.wait("strategy-pick-sma_cross", attr="checked", equals=True)
    page.do("select", testid="backtest-kind", value="grid")
    # Far more points than run in a few seconds here, so it is still running when cancelled.
    page.do("fill", testid="range-fast", value="2:150:1")
    page.do("fill", testid="range-slow", value="151:290:1")
    page.do("click", testid="backtest-run")
    page.wait("backtest-progress", attr="data-fraction", matches=r"^0\.\d*[1-9]", timeout=30)
    page.wait("backtest-progress", matches=r"\d+ of \d+ points")
    job_id = page.do("read", testid="result-link", attr="href").removeprefix("#/backtests/")
    assert _job(gateway, job_id)["state"] == "running"
    page.do("click", testid="backtest-cancel")
    page.wait("backtest-metrics", attr="data-state", equals="done", timeout=30)
    assert page.do("count", testid="backtest-progress") == 0
    page.wait("backtest-error", equals="Cancelled")
    job = _job(gateway, job_id)
    assert job["state"] == "cancelled" and job["progress"]["points_done"] < job["progress"]["points_total"]
