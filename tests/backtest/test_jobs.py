"""Backtests as jobs on the real service: progress to the end, the same result as POST /backtests,
cancelling, refusals, and the jobs kept over a restart."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.backtest.test_openapi import start_service, stop_service
from tests.backtest.test_service import write_dataset

GRID = {"fast": "3:9:2", "slow": "20,30"}
# Enough points on enough candles that a job runs for seconds, in steps, without leaving this
# process (a grid point is a few array passes: it takes a long dataset to keep one busy).
BIG_GRID = {"fast": "2:40:1", "slow": "20:120:1"}
LONG = "AUDCAD_otc-1m"


@pytest.fixture(scope="module")
def jobs_env(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, str]]:
    data = tmp_path_factory.mktemp("jobs") / "data"
    write_dataset(data, "EURUSD_otc", 5000, 1)
    write_dataset(data, "GBPUSD_otc", 3000, 2)
    write_dataset(data, "AUDCAD_otc", 100_000, 3)
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    yield env | {"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(data)}
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def service(jobs_env: dict[str, str]) -> Iterator[str]:
    proc, url = start_service(jobs_env)
    yield url
    stop_service(proc)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def job(url: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{url}/jobs/{job_id}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def submit(url: str, body: dict[str, Any]) -> str:
    r = httpx.post(url + "/jobs", json=body, timeout=10)
    assert r.status_code == 202, r.text
    assert r.json()["state"] in ("queued", "running")
    return str(r.json()["id"])


def finished(url: str, job_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (j := job(url, job_id))["state"] in ("done", "failed", "cancelled") and j, "the job"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "grid", "datasets": ["EURUSD_otc-1m", "GBPUSD_otc-1m"], "grid": GRID, "monte_carlo": 40},
        {
            "kind": "walk_forward",
            "datasets": ["EURUSD_otc-1m"],
            "grid": GRID,
            "walk_forward": {"train": 1000, "test": 500},
        },
        {
            "kind": "backtest",
            "dataset": "GBPUSD_otc-1m",
            "strategy": "rsi_reversal",
            "compare": ["sma_cross"],
        },
    ],
    ids=["grid", "walk_forward", "backtest"],
)
def test_a_job_runs_to_the_end_and_answers_what_post_backtests_answers(
    service: str, body: dict[str, Any]
) -> None:
    job_id = submit(service, body)
    done = finished(service, job_id)
    assert done["state"] == "done", done["error"]
    progress = done["progress"]
    assert progress["fraction"] == 1
    assert (
        progress["candles_done"]
        == progress["candles_total"]
        == sum(r["dataset"]["data"]["candles"] for r in done["result"]["results"])
    )
    if body["kind"] != "backtest" or body.get("compare"):
        assert progress["points_total"] > 0 and progress["points_done"] == progress["points_total"]
    sync = httpx.post(
        service + "/backtests", json={k: v for k, v in body.items() if k != "kind"}, timeout=120
    )
    assert sync.status_code == 200, sync.text
    assert done["result"] == sync.json()
    assert done["finished"] >= done["created"]
    listed = httpx.get(service + "/jobs", timeout=10).json()["jobs"]
    assert listed[0]["id"] == job_id and "result" not in listed[0]
    assert [j["created"] for j in listed] == sorted((j["created"] for j in listed), reverse=True)


def test_a_running_job_stops_at_its_next_step_and_a_waiting_one_at_once(service: str) -> None:
    body = {"kind": "grid", "datasets": [LONG], "grid": BIG_GRID}
    running = submit(service, body)
    others = [submit(service, body), submit(service, body)]  # two run at once: the last one waits
    wait_for(lambda: job(service, running)["progress"]["points_done"] > 0, "the first step")
    # The waiting one first: once the running one stops, the waiting one would take its place.
    waiting = httpx.delete(f"{service}/jobs/{others[1]}", timeout=10).json()
    assert waiting["state"] == "cancelled"  # never started
    r = httpx.delete(f"{service}/jobs/{running}", timeout=10)
    assert r.status_code == 200 and r.json()["id"] == running
    stopped = finished(service, running)
    assert stopped["state"] == "cancelled" and stopped["result"] is None
    assert 0 < stopped["progress"]["points_done"] < stopped["progress"]["points_total"]
    assert stopped["progress"]["fraction"] < 1
    httpx.delete(f"{service}/jobs/{others[0]}", timeout=10)
    assert finished(service, others[0])["state"] in ("cancelled", "done")
    assert job(service, others[1])["progress"]["points_done"] == 0


def test_refusals_come_at_once_in_the_shape_of_post_backtests(service: str) -> None:
    r = httpx.post(
        service + "/jobs", json={"datasets": ["NOPE_otc-1m"], "kind": "grid", "grid": GRID}, timeout=10
    )
    assert r.status_code == 404 and "NOPE_otc-1m" in r.json()["error"]
    r = httpx.post(service + "/jobs", json={"datasets": ["EURUSD_otc-1m"], "kind": "grid"}, timeout=10)
    assert r.status_code == 422 and "grid" in r.json()["error"]
    r = httpx.post(service + "/jobs", json={"datasets": ["EURUSD_otc-1m"], "strategy": "nope"}, timeout=10)
    assert r.status_code == 400
    r = httpx.post(
        service + "/jobs", json={"datasets": ["EURUSD_otc-1m"], "params": {"fast": -3}}, timeout=10
    )
    assert r.status_code == 400
    assert httpx.get(service + "/jobs/" + "0" * 32, timeout=10).status_code == 404
    assert httpx.delete(service + "/jobs/..%2Fx", timeout=10).status_code == 404


def test_jobs_and_their_results_are_kept_over_a_restart(jobs_env: dict[str, str]) -> None:
    proc, url = start_service(jobs_env)
    try:
        job_id = submit(
            url, {"kind": "monte_carlo", "datasets": ["GBPUSD_otc-1m"], "monte_carlo": 30, "seed": 4}
        )
        before = finished(url, job_id)
        assert before["state"] == "done" and before["result"]["results"][0]["monte_carlo"]
        listed = httpx.get(url + "/jobs", timeout=10).json()["jobs"]
    finally:
        stop_service(proc)
    assert (Path(jobs_env["QF_DATA_DIR"]) / ".backtests" / f"{job_id}.json").is_file()
    proc, url = start_service(jobs_env)
    try:
        assert httpx.get(url + "/jobs", timeout=10).json()["jobs"] == listed
        assert job(url, job_id) == before
    finally:
        stop_service(proc)


def test_the_gateway_relays_jobs(service: str, jobs_env: dict[str, str]) -> None:
    from tests.gateway.conftest import Gateway

    gw = Gateway(jobs_env | {"QF_BACKTEST_URL": service}).start()
    try:
        body = {"dataset": "EURUSD_otc-1m", "strategy": "sma_cross", "kind": "grid", "grid": GRID}
        r = httpx.post(gw.url + "/api/backtests/jobs", json=body, timeout=10)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        done = wait_for(
            lambda: (
                (j := httpx.get(f"{gw.url}/api/backtests/jobs/{job_id}", timeout=10).json())["state"]
                == "done"
                and j
            ),
            "the job through the gateway",
        )
        sync = httpx.post(
            gw.url + "/api/backtests", json={k: v for k, v in body.items() if k != "kind"}, timeout=60
        )
        assert done["result"] == sync.json()
        listed = httpx.get(gw.url + "/api/backtests/jobs", timeout=10).json()["jobs"]
        assert listed[0]["id"] == job_id
        assert httpx.delete(f"{gw.url}/api/backtests/jobs/{job_id}", timeout=10).json()["state"] == "done"
        assert httpx.get(f"{gw.url}/api/backtests/jobs/..%2F..%2Fx", timeout=10).status_code == 404
        r = httpx.post(
            gw.url + "/api/backtests/jobs", json={"dataset": "../etc", "strategy": "x"}, timeout=10
        )
        assert r.status_code == 422
    finally:
        gw.stop()
