"""The gateway's OpenAPI schema, checked against a running gateway (schemathesis).

A real gateway on a real Redis (its own key prefix) with candles, signals, paper trades, deals,
the trader's orders and its status on the bus, asking for the API token, and a real backtest service on a small dataset behind it.
Every operation gets generated requests, sent with the token; every answer must be no server
error, a status the schema lists, with the content type and body the schema says.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings

from quantumflux.backtest.app import create_app
from quantumflux.backtest.config import BacktestSettings
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import pack, pack_map
from quantumflux.bus.trading import Order
from quantumflux.gateway.app import Gateway as GatewayApp
from quantumflux.gateway.config import GatewaySettings
from quantumflux.trader.store import OrderStore
from tests.backtest.test_openapi import CHECKS, start_service, stop_service
from tests.backtest.test_service import write_dataset
from tests.conftest import free_port
from tests.gateway.conftest import Bus, Gateway, make_candle
from tests.gateway.entries import paper_map, signal_map

ASSET = "EURUSD_otc"
TOKEN = "openapi-run-3c9d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

RAW_SCHEMA = GatewayApp(GatewaySettings()).api.openapi()
schema = schemathesis.openapi.from_dict(RAW_SCHEMA)


def fill_the_bus(client: redis.Redis, prefix: str) -> None:
    """What the live routes read: closed and forming candles, signals, paper trades, deals, orders
    and the trader's status."""
    bus = Bus(client, prefix)
    bus.candles([make_candle(ASSET, i * 60, 3, closed=True) for i in range(5)])
    bus.candle(make_candle(ASSET, 300, 1, closed=False))
    for t, direction in ((60, 1), (120, -1)):
        client.xadd(bus.keys.signals(), {"d": pack_map(signal_map(ASSET, 60, t, direction))})
    client.xadd(bus.keys.paper(), {"d": pack_map(paper_map("open", 60))})
    client.xadd(bus.keys.paper(), {"d": pack_map(paper_map("void", 120, reason="gap"))})
    bus.event("deal", state="open", id="d1", asset=ASSET, direction="call", amount=5.0, open_time=60)
    bus.event("balance", balance=995.0, is_demo=True)
    for state, extra in (("requested", {}), ("open", {"deal_id": "d9", "open_price": 1.1})):
        rec = Order("r1", ASSET, "put", 5.0, 60, "demo", state, ts=1_800_000_000.0, **extra)  # type: ignore[arg-type]
        client.xadd(bus.keys.orders(), {"d": pack(rec)})
    rec = Order("r2", ASSET, "call", 5.0, 60, "real", "rejected", reason="closed", ts=1_800_000_001.0)
    client.xadd(bus.keys.orders(), {"d": pack(rec)})
    status = {"mode": "demo", "state": "trading", "reason": None, "limits": {}, "results": {}, "ts": 1.0}
    OrderStore(client, Keys(prefix)).save_status(status, ttl=3600)


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[str]:
    data = tmp_path_factory.mktemp("openapi-gw") / "data"
    write_dataset(data, ASSET, 300, 1)
    prefix = f"t{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    fill_the_bus(client, prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env |= {"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(data)}
    # A backfill the generated requests start finds no Chrome there and ends at once.
    env |= {"QF_CHROME_URL": f"http://127.0.0.1:{free_port()}"}
    backtest, backtest_url = start_service(env)
    gw = Gateway(
        env | {"QF_BACKTEST_URL": backtest_url, "QF_API_TOKEN": TOKEN, "QF_GATEWAY_REQUIRE_TOKEN": "true"}
    )
    try:
        gw.start()
        yield gw.url
    finally:
        gw.stop()
        stop_service(backtest)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def test_the_gateway_serves_this_schema(gateway_url: str) -> None:
    assert httpx.get(gateway_url + "/openapi.json", timeout=10).json() == RAW_SCHEMA


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented(case: schemathesis.Case[Any], gateway_url: str) -> None:
    case.call_and_validate(base_url=gateway_url, headers=AUTH, checks=CHECKS, timeout=60)


def test_the_schema_lists_the_token_and_every_refusal() -> None:
    paths = RAW_SCHEMA["paths"]
    for path, ops in paths.items():
        for op in ops.values():
            assert ("401" in op["responses"]) == (path != "/health"), path
            for status, answer in op["responses"].items():
                assert "content" in answer or status == "200", (path, status)
    assert {"400", "404", "422", "503", "504"} <= set(paths["/api/backtests"]["post"]["responses"])
    assert {"200", "401", "422"} <= set(paths["/api/orders"]["get"]["responses"])
    assert set(paths["/api/trading/stop"]) == {"post"}
    assert {"200", "401", "503"} <= set(paths["/api/trading/stop"]["post"]["responses"])
    # The web can stop trading and nothing else: no other route acts on it.
    assert [p for p in paths if "trad" in p or "order" in p] == [
        "/api/orders",
        "/api/trading",
        "/api/trading/stop",
    ]
    assert {"202", "401", "404", "409", "422"} <= set(paths["/api/backfill"]["post"]["responses"])
    assert "before" in {p["name"] for p in paths["/api/candles"]["get"]["parameters"]}
    assert paths["/metrics"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }


def test_the_dataset_page_has_the_backtest_services_bounds() -> None:
    """The gateway checks a dataset page's limit itself, with the backtest service's bounds."""
    theirs = create_app(BacktestSettings()).openapi()["paths"]["/datasets/{ds_id}/candles"]["get"]
    ours = RAW_SCHEMA["paths"]["/api/datasets/{ds_id}/candles"]["get"]
    limit = lambda op: next(p["schema"] for p in op["parameters"] if p["name"] == "limit")  # noqa: E731
    ours_int = next(s for s in limit(ours)["anyOf"] if s["type"] == "integer")
    assert (ours_int["minimum"], ours_int["maximum"]) == (limit(theirs)["minimum"], limit(theirs)["maximum"])


def test_refusals_keep_their_shape(gateway_url: str) -> None:
    get = lambda path, **kw: httpx.get(gateway_url + path, headers=AUTH, timeout=30, **kw)  # noqa: E731
    r = get("/api/candles", params={"asset": ASSET, "timeframe": "1m", "limit": 0})
    assert r.status_code == 422 and "limit" in r.json()["error"]
    r = get("/api/datasets/EURUSD_otc-1m/candles", params={"limit": "many"})
    assert r.status_code == 422 and "limit" in r.json()["error"]
    r = httpx.get(gateway_url + "/api/assets", timeout=10)
    assert r.status_code == 401 and "token" in r.json()["error"]
    r = httpx.post(gateway_url + "/api/assets", headers=AUTH, timeout=10)
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}
    r = httpx.post(gateway_url + "/api/backtests", headers=AUTH, json=RAW_SCHEMA_EXAMPLE, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["dataset"]["id"] == "EURUSD_otc-1m"


RAW_SCHEMA_EXAMPLE = RAW_SCHEMA["paths"]["/api/backtests"]["post"]["requestBody"]["content"][
    "application/json"
]["schema"]["examples"][0]
