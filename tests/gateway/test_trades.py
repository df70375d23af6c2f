"""Signals, paper trades, the user's deals and dataset candles through a running gateway.

Published to the real Redis the way the signals service and ingest do, read by real Socket.IO
clients and over HTTP; dataset candles come from the real backtest service on real CSV files.
"""

from __future__ import annotations

import calendar
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantumflux.bus.records import pack_map
from quantumflux.files.layout import candle_file, iso_utc
from tests.conftest import free_port
from tests.gateway.conftest import ROOT, make_candle, wait_until
from tests.gateway.entries import paper_map, signal_map

ASSET = "EURUSD_otc"
T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))


def deal(deal_id: str, state: str, open_time: int, profit: float | None, **extra: Any) -> dict[str, Any]:
    """A ``deal`` as ingest publishes it (docs/protocol.md, Your deals)."""
    return {
        "state": state,
        "id": deal_id,
        "asset": ASSET,
        "direction": "call",
        "amount": 10.0,
        "open_time": open_time,
        "close_time": open_time + 60,
        "open_price": 1.1,
        "close_price": None if state == "open" else 1.2,
        "profit": profit,
        "payout_percent": 80,
        "is_demo": True,
        "currency": "USD",
        **extra,
    }


def test_signals_paper_and_deals_reach_browsers_and_rest(start_gateway, recorders, bus, rclient, prefix):
    keys = bus.keys
    for i in range(5):
        bus.candle(make_candle(ASSET, i * 60, 3, closed=True))
    bus.candle(make_candle("GBPUSD_otc", 0, 3, closed=True))
    # Two signals already on the bus before the browser comes: sent after the history.
    before = [signal_map(ASSET, 60, 60, 1), signal_map(ASSET, 60, 120, -1)]
    for s in before:
        rclient.xadd(keys.signals(), {"d": pack_map(s)})
    rclient.xadd(keys.signals(), {"d": pack_map(signal_map("GBPUSD_otc", 60, 0, 1))})
    rclient.xadd(keys.signals(), {"d": b"not msgpack"})
    gw = start_gateway()
    watcher = recorders().connect(gw.url)  # watches EURUSD_otc 1m
    other = recorders().connect(gw.url)  # watches nothing
    assert watcher.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)["ok"]

    got = watcher.wait("signal", 2)
    assert [(s["time"], s["direction"]) for s in got] == [(60, "call"), (120, "put")]
    names = [e for e, _ in watcher.events if e in ("history", "signal")]
    assert names.index("history") < names.index("signal"), "the signals came before the history"
    first = got[0]
    assert first == {
        "id": before[0]["id"],
        "asset": ASSET,
        "timeframe": "1m",
        "time": 60,
        "direction": "call",
        "confidence": 0.75,
        "strategy": "rsi",
        "params": {"period": 14},
        "run": "rsi(period=14)",
        "price": before[0]["price"],
        "contract": "book#60",
    }

    # Live: a signal of the watched stream goes to its watcher only; others' streams to nobody.
    rclient.xadd(keys.signals(), {"d": pack_map(signal_map(ASSET, 60, 180, 1))})
    rclient.xadd(keys.signals(), {"d": pack_map(signal_map("GBPUSD_otc", 60, 60, -1))})
    # A marker read after them by the same reader: once it is here, a signal sent wrongly would be too.
    rclient.xadd(keys.signals(), {"d": pack_map(signal_map(ASSET, 60, 240, 1))})
    watcher.wait("signal", 4)
    assert [s["time"] for s in watcher.named("signal")] == [60, 120, 180, 240]
    assert all(s["asset"] == ASSET for s in watcher.named("signal"))
    # The other browser's own queue: anything put in it before this answer arrives before it.
    other.sio.call("stop_stream", {}, timeout=10)
    other.wait("stream_stopped")
    assert other.named("signal") == []

    # Paper trades go to every browser, timeframe as a label and direction in words.
    opened = paper_map("open", 180)
    settled = paper_map(
        "settle", 180, expiry_price=1.2, outcome=1, pnl=8.0, balance=1008.0, trades=1, wins=1, total_pnl=8.0
    )
    voided = paper_map("void", 240, direction=-1, reason="gap", voided=1, trades=1, wins=1, balance=1008.0)
    for p in (opened, settled, voided):
        rclient.xadd(keys.paper(), {"d": pack_map(p)})
    for rec in (watcher, other):
        kinds = [p["kind"] for p in rec.wait("paper_trade", 3)]
        assert kinds == ["open", "settle", "void"]
    s = other.named("paper_trade")[1]
    assert (s["timeframe"], s["direction"], s["outcome"], s["pnl"], s["balance"]) == (
        "1m",
        "call",
        1,
        8.0,
        1008.0,
    )
    assert other.named("paper_trade")[2]["reason"] == "gap"
    assert other.named("paper_trade")[2]["direction"] == "put"

    # The user's own deals and balance: relayed to every browser as published.
    d_open = deal("d1", "open", 100, None)
    d_closed = deal("d1", "closed", 100, 8.0)
    d_lost = deal("d2", "closed", 200, -10.0)
    bus.event("deal", **d_open)
    bus.event("deal", **d_closed)
    bus.event("deals", state="closed", deals=[d_lost, d_closed])
    bus.event("deal", state="failed", id=None, asset=ASSET, amount=5.0, error="not enough money")
    bus.event("balance", balance=990.5, is_demo=True)
    for rec in (watcher, other):
        deals = rec.wait("deal", 3)
        assert [(d["id"], d["state"]) for d in deals] == [("d1", "open"), ("d1", "closed"), (None, "failed")]
        assert deals[1] == d_closed
        assert rec.wait("deals")[0] == {"state": "closed", "deals": [d_lost, d_closed]}
        assert rec.wait("balance")[0] == {"balance": 990.5, "is_demo": True}

    # REST: recent entries, newest last.
    get = lambda path: httpx.get(gw.url + path, timeout=10)  # noqa: E731
    body = get(f"/api/signals?asset={ASSET}&timeframe=1m").json()
    assert [s["time"] for s in body["signals"]] == [60, 120, 180, 240]
    assert [s["time"] for s in get(f"/api/signals?asset={ASSET}&timeframe=60&limit=2").json()["signals"]] == [
        180,
        240,
    ]
    assert len(get("/api/signals").json()["signals"]) == 6  # every valid one; the broken entry skipped
    assert get("/api/signals?timeframe=7x").status_code == 400
    assert get("/api/signals?limit=0").status_code == 422
    paper = get("/api/paper").json()["paper"]
    assert [p["kind"] for p in paper] == ["open", "settle", "void"]
    assert paper[1] == s
    assert [p["kind"] for p in get("/api/paper?limit=1").json()["paper"]] == ["void"]
    account = get("/api/deals").json()
    assert account["balance"] == 990.5 and account["is_demo"] is True
    assert [(d["id"], d["state"]) for d in account["deals"]] == [("d1", "closed"), ("d2", "closed")]
    assert account["profit"] == 8.0 - 10.0
    assert (account["open"], account["closed"]) == (0, 2)


def test_a_new_gateway_knows_the_deals_and_balance_from_the_events_stream(start_gateway, bus):
    bus.event("deal", **deal("a", "closed", 10, 8.0))
    bus.event("deal", **deal("b", "open", 20, None))
    bus.event("balance", balance=1234.0, is_demo=False)
    bus.event("deal", state="closed", id="c")  # no asset or amount: ingest would not send it; kept
    gw = start_gateway()
    # The events stream is learnt by its own reader as the gateway starts.
    account = wait_until(
        lambda: (lambda a: a if a["balance"] is not None else None)(
            httpx.get(gw.url + "/api/deals", timeout=10).json()
        ),
        10,
        "the deals learnt",
    )
    assert account["balance"] == 1234.0 and account["is_demo"] is False
    assert [d["id"] for d in account["deals"]] == ["c", "a", "b"]
    assert account["profit"] == 8.0  # c has no profit, b is open


# --- dataset candles from the real backtest service ------------------------------------------


def candle_rows(tf: int, n: int) -> list[dict[str, Any]]:
    """The candles of a test dataset as the backtest service must send them."""
    rows = []
    for i in range(n):
        c = round(1.1 + i * 1e-5, 5)
        hi, lo = round(c + 1e-4, 5), round(c - 1e-4, 5)
        rows.append({"time": T0 + i * tf, "open": c, "high": hi, "low": lo, "close": c, "ticks": 3})
    return rows


def write_candles(data_dir: Path, asset: str, tf: int, n: int) -> None:
    """A persisted dataset in chunk files of 100 candles."""
    rows = candle_rows(tf, n)
    for chunk, start in enumerate(range(0, n, 100)):
        path = candle_file(data_dir, asset, tf, "20260614T100000Z", chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,open,high,low,close,ticks"]
        for r in rows[start : start + 100]:
            lines.append(f"{iso_utc(r['time'], False)},{r['open']},{r['high']},{r['low']},{r['close']},3")
        path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def backtest_service(test_env: dict[str, str]) -> Iterator[str]:
    data = Path(test_env["QF_DATA_DIR"])
    write_candles(data, ASSET, 60, 250)
    write_candles(data, ASSET, 300, 30)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.backtest"],
        env=test_env | {"QF_BACKTEST_PORT": str(port)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "the backtest service exited"
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the backtest service")
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_dataset_candles_are_relayed_from_the_backtest_service(start_gateway, backtest_service):
    rows_1m = candle_rows(60, 250)
    gw = start_gateway(backtest_url=backtest_service)
    get = lambda path: httpx.get(gw.url + path, timeout=30)  # noqa: E731

    relayed = get("/api/datasets").json()
    assert relayed == httpx.get(f"{backtest_service}/datasets", timeout=30).json()
    listing = {d["id"]: d for d in relayed["datasets"]}
    # The two series on disk; the coarser timeframes the files service derives from them say so.
    assert {i for i, d in listing.items() if not d.get("derived_from")} == {"EURUSD_otc-1m", "EURUSD_otc-5m"}
    assert listing["EURUSD_otc-1m"]["rows"] == 250
    assert listing["EURUSD_otc-5m"]["rows"] == 30

    r = get("/api/datasets/EURUSD_otc-1m/candles")
    assert r.status_code == 200
    body = r.json()
    assert body["candles"] == rows_1m
    assert (body["timeframe"], body["total"], body["more"]) == ("1m", 250, False)
    # limit and before pass through: the 10 newest before the 101st candle.
    r = get(f"/api/datasets/EURUSD_otc-1m/candles?limit=10&before={T0 + 100 * 60}&other=1")
    assert r.json()["candles"] == rows_1m[90:100] and r.json()["more"] is True
    direct = httpx.get(f"{backtest_service}/datasets/EURUSD_otc-5m/candles?limit=7", timeout=30)
    assert get("/api/datasets/EURUSD_otc-5m/candles?limit=7").json() == direct.json()

    # The backtest service's own errors, as they are.
    r = get("/api/datasets/NOPE-1m/candles")
    assert r.status_code == 404 and "error" in r.json()
    r = get("/api/datasets/EURUSD_otc-1m/candles?before=yesterday-ish")
    assert r.status_code == 422 and "error" in r.json()
    r = get("/api/datasets/EURUSD_otc-1m/candles?limit=0")
    assert r.status_code == 422 and "error" in r.json()
    # An id is one path segment: dots and escapes never walk the backtest service's paths.
    for bad in ("%2E%2E", "%2e%2e%2F%2E%2E", "a%2F..%2F..%2Fdatasets", "EURUSD_otc-1m%3Flimit=1"):
        r = get(f"/api/datasets/{bad}/candles")
        assert r.status_code == 404, (bad, r.status_code, r.text)


def test_dataset_candles_when_the_backtest_service_is_down(start_gateway):
    gw = start_gateway(backtest_url=f"http://127.0.0.1:{free_port()}")
    r = httpx.get(gw.url + "/api/datasets/EURUSD_otc-1m/candles", timeout=10)
    assert r.status_code == 503
    assert "backtest service is not running" in r.json()["error"]


def test_the_web_app_is_found_from_another_folder(test_env, tmp_path):
    """Started elsewhere, the default ``web/dist`` falls back to the project's own build."""
    dist = ROOT / "web" / "dist" / "index.html"
    if not dist.is_file():
        pytest.skip("the web app is not built (cd web && npm run build)")
    port = free_port()
    env = test_env | {"QF_GATEWAY_PORT": str(port), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.gateway"], env=env, cwd=tmp_path, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def page() -> httpx.Response | None:
            assert proc.poll() is None, "the gateway exited"
            try:
                return httpx.get(url + "/", timeout=1)
            except httpx.HTTPError:
                return None

        r = wait_until(page, 20, "the gateway")
        assert r.text == dist.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
