"""The backtest service's OpenAPI schema, checked against the running service (schemathesis).

Every operation gets generated requests (the schema's examples first, so a real backtest runs on a
real dataset); every answer must be no server error, a status the schema lists, with the content
type and body the schema says. The schema is built from the app in this process (so the tests can
be made when the module is read) and must be the one the running service serves.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from quantumflux.backtest.app import create_app
from quantumflux.backtest.config import BacktestSettings
from quantumflux.backtest.schemas import DATASET_ID_MAX, DATASET_ID_PATTERN
from quantumflux.files.datasets import DatasetError, check_id
from tests.backtest.test_service import FIX, write_dataset
from tests.conftest import free_port

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def start_service(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m quantumflux.backtest`` on a free port, once it answers its health probe."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.backtest"],
        env=env | {"QF_BACKTEST_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "the backtest service exited"
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the backtest service did not start"
        time.sleep(0.05)


def stop_service(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def backtest_env(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[dict[str, str]]:
    """A data folder with a small dataset (the one the schema's example names) and a broken file."""
    data = tmp_path_factory.mktemp("openapi") / "data"
    write_dataset(data, "EURUSD_otc", 300, 1)
    broken = data / "data_collect" / "1M_candles" / "BROKEN.csv"
    broken.parent.mkdir(parents=True)
    broken.write_text((FIX / "bad_number.csv").read_text())
    prefix = f"t{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    yield env | {"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(data)}
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def backtest_url(backtest_env: dict[str, str]) -> Iterator[str]:
    proc, url = start_service(backtest_env)
    yield url
    stop_service(proc)


RAW_SCHEMA = create_app(BacktestSettings()).openapi()
schema = schemathesis.openapi.from_dict(RAW_SCHEMA)


def test_the_service_serves_this_schema(backtest_url: str) -> None:
    assert httpx.get(backtest_url + "/openapi.json", timeout=10).json() == RAW_SCHEMA


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case: schemathesis.Case[Any], backtest_url: str) -> None:
    case.call_and_validate(base_url=backtest_url, checks=CHECKS, timeout=60)


def test_the_schema_lists_every_refusal() -> None:
    raw = RAW_SCHEMA["paths"]
    assert set(raw["/backtests"]["post"]["responses"]) == {"200", "400", "404", "422"}
    assert set(raw["/datasets/{ds_id}/candles"]["get"]["responses"]) == {"200", "404", "422"}
    assert set(raw["/jobs"]["post"]["responses"]) == {"202", "400", "404", "422"}
    assert set(raw["/jobs"]["get"]["responses"]) == {"200"}
    assert {"200", "404"} <= set(raw["/jobs/{job_id}"]["get"]["responses"])
    assert {"200", "404"} <= set(raw["/jobs/{job_id}"]["delete"]["responses"])
    assert RAW_SCHEMA["components"]["schemas"]["JobBody"]["properties"]["kind"]["enum"] == [
        "backtest",
        "grid",
        "walk_forward",
        "monte_carlo",
    ]
    body = RAW_SCHEMA["components"]["schemas"]["BacktestBody"]["properties"]
    assert body["datasets"]["minItems"] == 1 and body["datasets"]["items"]["pattern"] == DATASET_ID_PATTERN


def test_the_examples_run_for_real_and_refusals_keep_their_shape(backtest_url: str) -> None:
    example = RAW_SCHEMA["components"]["schemas"]["BacktestBody"]["examples"][0]
    r = httpx.post(backtest_url + "/backtests", json=example, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["metrics"]["trades"] > 0
    not_utf8 = httpx.post(
        backtest_url + "/backtests", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert not_utf8.status_code == 400 and not_utf8.json() == {"error": "There was an error parsing the body"}
    r = httpx.get(backtest_url + "/datasets/EURUSD_otc-1m/candles", params={"limit": 0})
    assert r.status_code == 422 and "limit" in r.json()["error"]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a",
        "EURUSD_otc-1m",
        "a.b",
        "a.",
        "a..b",
        ".hidden",
        "-x",
        "a/b",
        "../x",
        "a b",
        "é",
        "x" * 200,
        "x" * 201,
    ],
)
def test_the_id_pattern_says_what_check_id_accepts(value: str) -> None:
    try:
        check_id(value)
        accepted = True
    except DatasetError:
        accepted = False
    fits = re.search(DATASET_ID_PATTERN, value) is not None and len(value) <= DATASET_ID_MAX
    assert fits == accepted, value
