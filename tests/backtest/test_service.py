"""The real service (uvicorn in a child process, real HTTP) and the real `qf backtest` command."""

from __future__ import annotations

import calendar
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import redis

from quantumflux.files.layout import candle_file, iso_utc
from tests.conftest import free_port

T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))
QF = str(Path(sys.executable).parent / "qf")
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "backtest"


def write_dataset(data_dir: Path, asset: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    close = np.round(1.1 + np.cumsum(rng.integers(-3, 4, n)) * 1e-5, 5)
    times = T0 + 60 * np.arange(n)
    for chunk, start in enumerate(range(0, n, 1000)):
        path = candle_file(data_dir, asset, 60, "20260614T100000Z", chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = ["timestamp,open,high,low,close,ticks"]
        for t, c in zip(times[start : start + 1000], close[start : start + 1000], strict=True):
            rows.append(f"{iso_utc(int(t), False)},{c},{c},{c},{c},2")
        path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("bt") / "data"
    write_dataset(data, "EURUSD_otc", 5000, 1)
    write_dataset(data, "GBPUSD_otc", 3000, 2)
    broken = data / "data_collect" / "1M_candles" / "BROKEN.csv"
    broken.parent.mkdir(parents=True)
    broken.write_text((FIX / "bad_number.csv").read_text())
    prefix = f"t{uuid.uuid4().hex[:12]}"
    out = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    out |= {"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(data)}
    yield out
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def service(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.backtest"],
        env=env | {"QF_BACKTEST_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            proc.kill()
            pytest.fail(f"the backtest service did not start: {out}")
        time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the backtest service did not stop on SIGTERM")


def qf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QF, *args], env=env, capture_output=True, text=True, timeout=120)


def test_rest_and_cli_give_the_same_result(service: str, env: dict[str, str]) -> None:
    body: dict[str, Any] = {
        "datasets": ["EURUSD_otc-1m", "GBPUSD_otc-1m"],
        "strategy": "sma_cross",
        "params": {"fast": 4, "slow": 12},
        "expiry": 2,
        "payout": 0.85,
        "compare": ["quantum_flux", "rsi_reversal"],
        "grid": {"fast": "2:4:1", "slow": "10,15"},
        "monte_carlo": 50,
    }
    rest = httpx.post(service + "/backtests", json=body, timeout=120)
    assert rest.status_code == 200, rest.text
    cli = qf(
        env,
        "backtest",
        "EURUSD_otc-1m",
        "GBPUSD_otc-1m",
        "--strategy",
        "sma_cross",
        "-p",
        "fast=4",
        "--param",
        "slow=12",
        "--expiry",
        "2",
        "--payout",
        "0.85",
        "--compare",
        "quantum_flux,rsi_reversal",
        "--grid",
        "fast=2:4:1",
        "--grid",
        "slow=10,15",
        "--monte-carlo",
        "50",
        "--json",
    )
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    from_rest = rest.json()
    assert from_cli == from_rest
    first = from_rest["results"][0]
    assert first["dataset"]["id"] == "EURUSD_otc-1m" and first["dataset"]["data"]["candles"] == 5000
    assert first["metrics"]["trades"] == len(first["trades"]) > 100
    assert [c["strategy"] for c in first["compare"]] == ["sma_cross", "quantum_flux", "rsi_reversal"]
    assert len(first["grid"]["rows"]) == 6 and first["grid"]["heatmap"]["x"] == "fast"
    assert first["monte_carlo"]["runs"] == 50


def test_lists_strategies_datasets_and_health(service: str) -> None:
    names = [s["name"] for s in httpx.get(service + "/strategies").json()["strategies"]]
    assert names == ["sma_cross", "rsi_reversal", "macd_cross", "bollinger_reversal", "quantum_flux"]
    qf_schema = httpx.get(service + "/strategies").json()["strategies"][4]["parameters"]["properties"]
    assert qf_schema["threshold"]["default"] == 0.7
    ids = [d["id"] for d in httpx.get(service + "/datasets").json()["datasets"]]
    # Then the timeframes derived from those minutes.
    assert ids[:3] == ["EURUSD_otc-1m", "GBPUSD_otc-1m", "BROKEN-1m-collect"]
    listing = json.dumps(httpx.get(service + "/datasets").json())
    assert "/" not in listing.replace("\\/", "")  # no paths of the machine
    health = httpx.get(service + "/health").json()
    assert health["status"] == "ok"


def test_one_dataset_as_the_browser_sends_it(service: str) -> None:
    one = httpx.post(
        service + "/backtests", json={"dataset": "GBPUSD_otc-1m", "strategy": "macd_cross", "params": {}}
    )
    assert one.status_code == 200, one.text
    many = httpx.post(service + "/backtests", json={"datasets": ["GBPUSD_otc-1m"], "strategy": "macd_cross"})
    assert one.json() == many.json()
    listed = httpx.post(service + "/backtests", json={"dataset": ["GBPUSD_otc-1m"], "strategy": "macd_cross"})
    assert listed.json() == many.json()


def test_the_service_keeps_a_heartbeat(service: str, env: dict[str, str], redis_url: str) -> None:
    from quantumflux.bus.health import read_heartbeats
    from quantumflux.bus.keys import Keys

    client = redis.Redis.from_url(redis_url)
    try:
        beats = read_heartbeats(client, Keys(env["QF_PREFIX"]))
    finally:
        client.close()
    assert [b["service"] for b in beats] == ["backtest"]
    assert {"requests", "failed", "last_run_ms"} <= set(beats[0])


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"datasets": ["../../etc/passwd"]}, 400, "not a dataset id"),
        ({"datasets": ["/etc/passwd"]}, 400, "not a dataset id"),
        ({"datasets": [""]}, 400, "not a dataset id"),
        ({"datasets": ["EURUSD_otc-2m"]}, 404, "unknown dataset 'EURUSD_otc-2m'"),
        ({"datasets": ["EURUSD_otc-1m"], "strategy": "magic"}, 400, "unknown strategy 'magic'"),
        ({"datasets": ["EURUSD_otc-1m"], "params": {"fast": 50}}, 400, "fast must be smaller than slow"),
        ({"datasets": ["EURUSD_otc-1m"], "params": {"speed": 5}}, 400, "unknown parameter 'speed'"),
        ({"datasets": ["EURUSD_otc-1m"], "payout": -1}, 422, "payout"),
        ({"datasets": ["EURUSD_otc-1m"], "strategy_file": "/tmp/x.py"}, 422, "strategy_file"),
        ({"strategy": "sma_cross"}, 422, "datasets"),
        ({"datasets": ["EURUSD_otc-1m"], "metric": "luck"}, 422, "unknown metric"),
        ({"datasets": ["EURUSD_otc-1m"], "grid": {"fast": "1:x"}}, 400, "grid fast=1:x"),
        ({"datasets": ["BROKEN-1m-collect"]}, 422, "BROKEN.csv:4:5: 'abc' is not a number"),
        ({"dataset": "EURUSD_otc-2m", "strategy": "sma_cross", "params": {}}, 404, "unknown dataset"),
        ({"dataset": "../x", "strategy": "sma_cross", "params": {}}, 400, "not a dataset id"),
        ({"dataset": "EURUSD_otc-1m", "strategy": "sma_cross", "params": {"fast": "x"}}, 400, "fast"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(
    service: str, body: dict[str, Any], status: int, words: str
) -> None:
    r = httpx.post(service + "/backtests", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_cli_errors_are_one_line(env: dict[str, str], tmp_path: Path) -> None:
    cases = [
        (["EURUSD_otc-1m", "--strategy", "magic"], "unknown strategy 'magic'"),
        (["EURUSD_otc-1m", "-p", "fast=abc"], "fast must be a number"),
        (["EURUSD_otc-1m", "--payout", "0"], "payout"),
        (["nothing-here"], "unknown dataset 'nothing-here'"),
        ([str(FIX / "ragged.csv")], "ragged.csv:5:7: 7 values where the header has 6 columns"),
        (["EURUSD_otc-1m", "--strategy-file", str(tmp_path / "none.py")], "no such strategy file"),
    ]
    for args, words in cases:
        r = qf(env, "backtest", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and words in r.stderr, r.stderr


def test_cli_report_and_table(env: dict[str, str], tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    r = qf(env, "backtest", "EURUSD_otc-1m", "--strategy", "quantum_flux", "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert "EURUSD_otc-1m" in r.stdout and "win rate" in r.stdout
    page = report.read_text()
    assert page.count("<svg") == 2 and "<polyline" in page and "<polygon" in page
    assert "<script" not in page and "http" not in page.lower().replace("http-equiv", "")


def test_cli_reads_a_file_the_user_names(env: dict[str, str]) -> None:
    r = qf(env, "backtest", str(FIX / "iso_z.csv"), "--json", "-p", "fast=1", "-p", "slow=2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["results"][0]
    assert out["dataset"]["source"] == "file" and out["dataset"]["data"]["candles"] == 6


def written_candles(data: Path, asset: str) -> list[dict[str, Any]]:
    """Every candle of an asset's 1m files, read back with the csv module, oldest first."""
    import csv

    out = []
    for path in sorted((data / "realtime_stream" / "1M_candle_data").glob(f"{asset}_1M_*.csv")):
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                t = calendar.timegm(time.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
                prices = {k: float(row[k]) for k in ("open", "high", "low", "close")}
                out.append({"time": t, **prices, "ticks": int(row["ticks"])})
    return sorted(out, key=lambda c: c["time"])


def test_the_dataset_list_has_counts_and_times(service: str) -> None:
    listed = {d["id"]: d for d in httpx.get(service + "/datasets").json()["datasets"]}
    eur = listed["EURUSD_otc-1m"]
    last = T0 + 60 * 4999
    assert {k: eur[k] for k in ("rows", "start_time", "end_time", "start", "end")} == {
        "rows": 5000,
        "start_time": T0,
        "end_time": last,
        "start": "2026-06-14T10:00:00Z",
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)),
    }
    assert (eur["timeframe"], eur["timeframe_seconds"], eur["files"], eur["gaps"]) == ("1m", 60, 5, 0)
    assert (eur["asset"], eur["problem"]) == ("EURUSD_otc", None)
    assert listed["GBPUSD_otc-1m"]["rows"] == 3000
    # Only times are read for the list: the file with a bad price shows its 4 candles.
    assert listed["BROKEN-1m-collect"]["rows"] == 4


def test_the_newest_candles_of_a_dataset(service: str, env: dict[str, str]) -> None:
    want = written_candles(Path(env["QF_DATA_DIR"]), "EURUSD_otc")
    url = service + "/datasets/EURUSD_otc-1m/candles"
    ten = httpx.get(url, params={"limit": 10})
    assert ten.status_code == 200, ten.text
    body = ten.json()
    assert (body["dataset"], body["asset"], body["timeframe"], body["timeframe_seconds"]) == (
        "EURUSD_otc-1m",
        "EURUSD_otc",
        "1m",
        60,
    )
    assert body["candles"] == want[-10:] and body["more"] and body["total"] == 5000
    everything = httpx.get(url).json()  # 5000 by default: all of this dataset
    assert everything["candles"] == want and not everything["more"]
    # Paging back: the 100 candles before the 4000th, by epoch seconds or by ISO time.
    page = httpx.get(url, params={"limit": 100, "before": want[4000]["time"]}).json()
    assert page["candles"] == want[3900:4000] and page["more"]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(want[4000]["time"]))
    assert httpx.get(url, params={"limit": 100, "before": iso}).json()["candles"] == want[3900:4000]
    first = httpx.get(url, params={"limit": 100, "before": want[50]["time"]}).json()
    assert first["candles"] == want[:50] and not first["more"]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/datasets/EURUSD_otc-2m/candles", 404, "unknown dataset 'EURUSD_otc-2m'"),
        ("/datasets/.hidden/candles", 404, "not a dataset id"),
        ("/datasets/EURUSD_otc-1m/candles?limit=0", 422, "limit"),
        ("/datasets/EURUSD_otc-1m/candles?limit=200001", 422, "limit"),
        ("/datasets/EURUSD_otc-1m/candles?limit=many", 422, "limit"),
        ("/datasets/EURUSD_otc-1m/candles?before=yesterday", 422, "before='yesterday' is not a time"),
        ("/datasets/BROKEN-1m-collect/candles", 422, "BROKEN.csv:4:5: 'abc' is not a number"),
    ],
)
def test_bad_candle_requests_get_4xx_with_a_message(service: str, path: str, status: int, words: str) -> None:
    r = httpx.get(service + path)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert "/" not in r.json()["error"].replace("data_collect/1M_candles/", "")
