"""History on demand at the gateway: scrolling back past the stored series into the files on disk,
and ``POST /api/backfill`` (the token, bad input, one run at a time, progress to every browser).

A real gateway process on a real Redis, real files written by the backfill's own writer, and a
real ``qf backfill`` child process; its Chrome is a socket that never answers, so the run is
still going when the second request comes and then fails the way a missing Chrome fails.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantumflux.bus.records import Candle
from quantumflux.files.collect import CollectedCandle, CollectWriter
from quantumflux.files.layout import session_label
from tests.gateway.conftest import Bus, Gateway, Recorder, make_candle, payload

ASSET = "EURUSD_otc"
TOKEN = "history-run-71b2"
NOW = (int(time.time()) // 60) * 60
SERIES_FIRST = NOW - 10 * 60  # the stored series: the last ten minutes


def series(bus: Bus) -> list[Candle]:
    candles = [make_candle(ASSET, SERIES_FIRST + i * 60, 3, closed=True) for i in range(10)]
    bus.candles(candles)
    return candles


def backfilled(data: Path) -> list[CollectedCandle]:
    """Forty collected minutes ending two minutes into the series (those two differ from it)."""
    rows = [
        CollectedCandle(SERIES_FIRST + (i - 38) * 60, 1.2 + i / 1e4, 1.21 + i / 1e4, 1.19, 1.2, 0, 40 + i)
        for i in range(40)
    ]
    CollectWriter(data, ASSET, 60, session_label(time.time()), 100).write(rows)
    return rows


def from_file(c: CollectedCandle) -> dict[str, Any]:
    return {
        "asset": ASSET, "timeframe": "1m", "time": c.time, "open": c.open, "high": c.high,
        "low": c.low, "close": c.close, "ticks": c.ticks, "closed": True, "complete": True,
        "volume": c.volume,
    }  # fmt: skip


def older(gw: Gateway, before: int, limit: int) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"asset": ASSET, "timeframe": "1m", "limit": limit, "before": before}
    r = httpx.get(f"{gw.url}/api/candles", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json()["candles"])


def test_scrolling_back_reads_the_series_then_the_files_without_a_time_twice(
    start_gateway: Callable[..., Gateway], bus: Bus, test_env: dict[str, str]
) -> None:
    stored = series(bus)
    files = backfilled(Path(test_env["QF_DATA_DIR"]))
    gw = start_gateway()
    # Inside the series: only stored candles.
    assert older(gw, SERIES_FIRST + 5 * 60, 3) == [payload(c) for c in stored[2:5]]
    # Across its start: the two stored ones, and before them the files' (not their two minutes
    # that the series also holds).
    got = older(gw, SERIES_FIRST + 2 * 60, 6)
    assert got == [from_file(c) for c in files[34:38]] + [payload(c) for c in stored[:2]]
    # Older than the series: the files alone; fewer than asked for where history ends.
    got = older(gw, SERIES_FIRST, 500)
    assert got == [from_file(c) for c in files[:38]]
    assert older(gw, files[0].time, 500) == []
    # Without `before`, the stream's history as before: the series only.
    r = httpx.get(f"{gw.url}/api/candles", params={"asset": ASSET, "timeframe": "1m"}, timeout=10)
    assert [c["time"] for c in r.json()["candles"]] == [c.time for c in stored]
    r = httpx.get(f"{gw.url}/api/candles", params={"asset": ASSET, "timeframe": "1m", "before": -1})
    assert r.status_code == 422 and "before" in r.json()["error"]


@pytest.fixture
def silent_chrome() -> Iterator[str]:
    """An address that takes connections and never answers, as a hung Chrome would."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def post(gw: Gateway, body: Any, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{gw.url}/api/backfill", json=body, headers=headers, timeout=10)


def test_backfill_asks_for_the_token_refuses_bad_input_and_runs_once_per_series(
    start_gateway: Callable[..., Gateway],
    bus: Bus,
    recorders: Callable[..., Recorder],
    silent_chrome: str,
    test_env: dict[str, str],
) -> None:
    series(bus)
    gw = start_gateway(api_token=TOKEN, chrome_url=silent_chrome, bridge_timeout="3")
    browser = recorders().connect(gw.url)
    body = {"asset": ASSET, "timeframe": "1m", "days": 1}
    # On loopback reading needs no token, but getting history acts through the trader's page.
    assert httpx.get(f"{gw.url}/api/assets", timeout=5).status_code == 200
    for token in (None, "wrong"):
        r = post(gw, body, token)
        assert r.status_code == 401 and "token" in r.json()["error"]
    assert browser.named("backfill_progress") == []
    r = post(gw, body | {"days": 0})
    assert r.status_code == 422 and "days" in r.json()["error"]
    r = post(gw, body | {"asset": "NOPE_otc"})
    assert r.status_code == 404 and r.json()["code"] == "unknown_asset"
    r = post(gw, body | {"timeframe": "soon"})
    assert r.status_code == 400 and r.json()["code"] == "bad_timeframe"
    r = post(gw, body | {"path": "/etc"})
    assert r.status_code == 422

    r = post(gw, body)
    assert r.status_code == 202, r.text
    started = r.json()
    assert started | {"days": 1} == {
        "asset": ASSET, "timeframe": "1m", "days": 1, "state": "running", "candles": 0,
        "pages": 0, "pages_planned": 0, "reached": None, "error": None,
    }  # fmt: skip
    busy = post(gw, body | {"days": 7})
    assert busy.status_code == 409, busy.text
    assert busy.json()["progress"]["state"] == "running" and busy.json()["progress"]["days"] == 1
    # The child cannot reach Chrome: every browser hears why, and the series is free again.
    news = browser.wait("backfill_progress", 2, timeout=60)
    assert news[0]["state"] == "running"
    assert news[-1]["state"] == "failed" and "Chrome" in news[-1]["error"], news
    assert not (Path(test_env["QF_DATA_DIR"]) / "data_collect").exists()
    assert post(gw, body).status_code == 202
