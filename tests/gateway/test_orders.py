"""The trader's orders, its status and the kill switch through a running gateway.

Orders are XADDed on the real Redis as the trader publishes them, its status is kept with the
trader's own store, and the stop is read back from that store: the one ``qf trade stop`` writes.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import pack
from quantumflux.bus.trading import Order
from quantumflux.trader.store import OrderStore, TraderKeys
from tests.gateway.conftest import wait_until

TOKEN = "kill-switch-5e1a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ASSET = "EURUSD_otc"


def order(rid: str, state: str, ts: float, **extra: Any) -> Order:
    base: dict[str, Any] = dict(asset=ASSET, action="call", amount=5.0, expiry=60, mode="demo")
    return Order(rid, state=state, ts=ts, **{**base, **extra})


def publish(client: redis.Redis, prefix: str, *orders: Order) -> None:
    for o in orders:
        client.xadd(Keys(prefix).orders(), {"d": pack(o)})


def status(state: str = "trading", **extra: Any) -> dict[str, Any]:
    """A status shaped as the trader keeps it (services/trader/status.py)."""
    return {
        "mode": "real",
        "real_money": True,
        "state": state,
        "reason": None,
        "stop_rule": None,
        "account": {"is_demo": False, "balance": 120.0},
        "rules": {"max_open": 2},
        "limits": {
            "max_open": {"limit": 2, "used": 1},
            "daily_loss": {"limit": 10.0, "used": 5.0},
            "max_per_hour": {"limit": 20, "used": 3},
            "max_losses": {"limit": 5, "used": 1},
        },
        "open_orders": [{"request_id": "r2"}],
        "unknown_orders": [],
        "results": {"today_pnl": -0.4, "total_pnl": -0.4, "wins": 1, "losses": 1, "ties": 0},
        "ts": time.time(),
        **extra,
    }


def test_orders_status_and_updates_reach_rest_and_browsers(start_gateway, recorders, rclient, prefix):
    t = time.time() - 100
    publish(
        rclient,
        prefix,
        order("r1", "requested", t),
        order("r1", "open", t + 0.5, deal_id="d1", open_price=1.1),
        order("r1", "closed", t + 61, deal_id="d1", open_price=1.1, close_price=1.2, profit=4.6),
        order("r2", "requested", t + 70, action="put"),
        order("r3", "requested", t + 71),
        order("r3", "rejected", t + 71.5, reason="not enough money"),
    )
    store = OrderStore(rclient, Keys(prefix))
    store.save_status(status(), ttl=30)
    gw = start_gateway(api_token=TOKEN)
    get = lambda path, **kw: httpx.get(gw.url + path, headers=AUTH, timeout=10, **kw)  # noqa: E731

    body = get("/api/orders").json()
    assert [(o["request_id"], o["state"]) for o in body["orders"]] == [
        ("r1", "closed"),
        ("r2", "requested"),
        ("r3", "rejected"),
    ]
    won = body["orders"][0]
    assert won["result"] == "won" and won["opened_at"] == t + 0.5 and won["expires_at"] == t + 60.5
    assert [o["request_id"] for o in get("/api/orders", params={"state": "rejected"}).json()["orders"]] == [
        "r3"
    ]
    assert get("/api/orders", params={"state": "lost"}).status_code == 422

    shown = wait_until(lambda: (lambda b: b if b["running"] else None)(get("/api/trading").json()))
    assert shown["mode"] == "real" and shown["limits"]["daily_loss"] == {"limit": 10.0, "used": 5.0}
    assert shown["open_orders"] == ["r2"]

    browser = recorders().connect(gw.url, auth={"token": TOKEN})
    assert browser.wait("trading_status")[0]["mode"] == "real"
    publish(rclient, prefix, order("r2", "open", t + 70.4, action="put", deal_id="d2", open_price=1.3))
    update = browser.wait("order_update")[0]
    assert update["request_id"] == "r2" and update["state"] == "open" and update["action"] == "put"
    store.save_status(status("stopped", reason="the daily loss reached 10", stop_rule="daily_loss"), ttl=30)
    stopped = wait_until(lambda: [s for s in browser.named("trading_status") if s["state"] == "stopped"])
    assert stopped[0]["reason"] == "the daily loss reached 10"
    rclient.delete(TraderKeys(Keys(prefix)).status)  # the trader went away: its status expired
    gone = wait_until(lambda: [s for s in browser.named("trading_status") if not s["running"]])
    assert gone[0]["state"] == "off"


def commands(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    import msgpack

    rows = client.xrange(TraderKeys(Keys(prefix)).commands)
    return [msgpack.unpackb(fields[b"d"]) for _id, fields in rows]


def test_the_kill_switch_needs_the_token_even_on_loopback(start_gateway, rclient, prefix):
    store = OrderStore(rclient, Keys(prefix))
    gw = start_gateway(api_token=TOKEN)  # loopback, and the token not asked for reading
    assert httpx.get(gw.url + "/api/orders", timeout=10).status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.post(gw.url + "/api/trading/stop", headers=headers, timeout=10)
        assert r.status_code == 401 and "token" in r.json()["error"]
    assert store.stop() is None and commands(rclient, prefix) == []

    r = httpx.post(gw.url + "/api/trading/stop", headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["stopped"] is True and r.json()["was"] == "off"
    assert store.stop() == ("kill_switch", "stopped by the trader (web app)")
    sent = commands(rclient, prefix)
    assert [c["cmd"] for c in sent] == ["stop"]


def test_nothing_on_the_web_starts_trading_or_loosens_a_limit(start_gateway, recorders, rclient, prefix):
    store = OrderStore(rclient, Keys(prefix))
    store.save_stop("daily_loss", "the daily loss reached 10")
    store.save_status(status("stopped", stop_rule="daily_loss"), ttl=30)
    gw = start_gateway(api_token=TOKEN, gateway_require_token="true")
    attempts = [
        ("POST", "/api/trading/start"),
        ("POST", "/api/trading/resume"),
        ("POST", "/api/trading/limits"),
        ("POST", "/api/trading/stake"),
        ("POST", "/api/trading"),
        ("PUT", "/api/trading"),
        ("PATCH", "/api/trading"),
        ("DELETE", "/api/trading/stop"),
        ("PUT", "/api/trading/stop"),
        ("GET", "/api/trading/stop"),
        ("POST", "/api/trade/resume"),
        ("POST", "/api/orders"),
        ("PUT", "/api/orders"),
        ("POST", "/api/trading/mode"),
    ]
    for method, path in attempts:
        for body in (None, {"mode": "real", "stake": 1000, "max_open": 99, "daily_loss": 1e9}):
            r = httpx.request(method, gw.url + path, headers=AUTH, json=body, timeout=10)
            assert r.status_code in (404, 405), (method, path, r.status_code)
    browser = recorders().connect(gw.url, auth={"token": TOKEN})
    for event in ("trade_resume", "trade_start", "start_trading", "resume_trading", "set_limits", "trade"):
        answer = browser.sio.call(event, {"mode": "real", "stake": 1000, "max_losses": 99}, timeout=10)
        assert answer["ok"] is False and answer["code"] == "unknown_event", event
    assert store.stop() == ("daily_loss", "the daily loss reached 10")
    assert commands(rclient, prefix) == []
    assert httpx.get(gw.url + "/api/trading", headers=AUTH, timeout=10).json()["state"] == "stopped"
