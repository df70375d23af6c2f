"""The trader's orders, its status and the kill switch in the web app, in a real Chromium against a
real gateway; orders XADDed on Redis the way the trader publishes them, its status kept and its
stop read back with the trader's own store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from quantumflux.bus.records import Candle, pack
from quantumflux.bus.trading import Order
from quantumflux.trader.store import OrderStore
from tests.web.helpers import Bus, Gateway, Page, publish_recent, served_gateway, wait_markers

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ASSET = "EURUSD_otc"
TOKEN = "web-stop-77b2"


@pytest.fixture
def candles(bus: Bus) -> list[Candle]:
    return publish_recent(bus, ASSET, seed=5)


@pytest.fixture
def gateway(test_env: dict[str, str], tmp_path: Path, candles: object) -> Iterator[Gateway]:
    # A token is set: reading on loopback needs none, the kill switch does.
    with served_gateway({**test_env, "QF_API_TOKEN": TOKEN}, tmp_path) as gw:
        yield gw


def order(rid: str, state: str, ts: float, **extra: Any) -> Order:
    base: dict[str, Any] = dict(asset=ASSET, action="call", amount=5.0, expiry=60, mode="demo")
    return Order(rid, state=state, ts=ts, **{**base, **extra})


def status(state: str, **extra: Any) -> dict[str, Any]:
    """A status shaped as the trader keeps it (services/trader/status.py)."""
    return {
        "mode": "real",
        "real_money": True,
        "state": state,
        "reason": None,
        "stop_rule": None,
        "account": {"is_demo": False, "balance": 120.0},
        "limits": {
            "max_open": {"limit": 2, "used": 1},
            "daily_loss": {"limit": 10.0, "used": 5.0},
            "max_per_hour": {"limit": 20, "used": 3},
            "max_losses": {"limit": 5, "used": 1},
        },
        "open_orders": [],
        "unknown_orders": [],
        "results": {"today_pnl": -0.4, "total_pnl": -0.4, "wins": 1, "losses": 1, "ties": 0},
        "ts": time.time(),
        **extra,
    }


def before_the_page(bus: Bus, rclient: redis.Redis, t: list[int]) -> None:
    """A real order won, a demo order lost and one refused, and the page's report of the real one."""
    orders_key = bus.keys.orders()
    for o in (
        order("won-1", "requested", t[20] + 1, mode="real"),
        order("won-1", "open", t[20] + 2, mode="real", deal_id="d1", open_price=1.1),
        order("won-1", "closed", t[21] + 3, mode="real", deal_id="d1", close_price=1.2, profit=4.6),
        order("lost-1", "requested", t[24] + 1, action="put"),
        order("lost-1", "open", t[24] + 1.5, action="put", deal_id="d2", open_price=1.1),
        order("lost-1", "closed", t[25] + 2, action="put", deal_id="d2", close_price=1.2, profit=-5.0),
        order("no-1", "requested", t[26]),
        order("no-1", "rejected", t[26] + 0.5, reason="not enough money"),
    ):
        rclient.xadd(orders_key, {"d": pack(o)})
    # The page reports the trader's deal too: drawn once, as the order.
    bus.event("deal", state="closed", id="d1", asset=ASSET, direction="call", amount=5.0,
              open_time=t[20] + 2, close_time=t[21] + 2, profit=4.6)  # fmt: skip


def test_orders_show_in_the_panel_and_on_the_chart(
    gateway: Gateway, page: Page, bus: Bus, rclient: redis.Redis, candles: list[Candle]
) -> None:
    orders_key = bus.keys.orders()
    t = [c.time for c in candles]
    store = OrderStore(rclient, bus.keys)
    store.save_status(status("trading"), ttl=60)
    before_the_page(bus, rclient, t)

    page.do("open", url=f"{gateway.url}/?token={TOKEN}")
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="asset-select", value=ASSET)
    page.wait("candle-count", matches=rf"^{len(candles)} candles$")
    drawn = wait_markers(
        page,
        {
            ("order-open", t[20] + 2),
            ("order-won", t[20] + 62),
            ("order-open", t[24] + 1.5),
            ("order-lost", t[24] + 61.5),
        },
    )
    texts = {(m["kind"], m["time"]): m["text"] for m in drawn}
    assert texts[("order-open", t[20] + 2)] == "REAL call 5"
    assert texts[("order-won", t[20] + 62)] == "REAL won +4.60"
    assert texts[("order-lost", t[24] + 61.5)] == "demo lost −5.00"
    assert not [m for m in drawn if m["kind"].startswith("deal-")]  # d1 is the order's deal
    assert not [m for m in drawn if m["time"] == t[26]]  # a refused order never opened

    page.wait("trading-mode", attr="data-mode", equals="real")
    assert page.do("read", testid="trading-mode") == "REAL MONEY"
    page.wait("trading-state", attr="data-state", equals="trading")
    page.wait("pnl-real", attr="data-value", equals="4.6")
    page.wait("pnl-demo", attr="data-value", equals="-5")
    page.wait("ended-orders", attr="data-count", equals="3")
    page.wait("open-orders", attr="data-count", equals="0")
    limits = page.do("attrs", selector='[data-testid="trading-limit"]')
    assert {(a["data-key"], a["data-used"], a["data-limit"]) for a in limits} == {
        ("max_open", "1", "2"),
        ("daily_loss", "5", "10"),
        ("max_per_hour", "3", "20"),
        ("max_losses", "1", "5"),
    }

    # Live: a new order opens, shows as open in the panel and on the chart.
    rclient.xadd(orders_key, {"d": pack(order("live-1", "requested", t[36] + 1))})
    rclient.xadd(orders_key, {"d": pack(order("live-1", "open", t[36] + 2, deal_id="d3", open_price=1.1))})
    page.wait("open-orders", attr="data-count", equals="1")
    rows = page.do("attrs", selector='[data-testid="open-orders"] [data-testid="order-row"]')
    assert [(r["data-request-id"], r["data-state"]) for r in rows] == [("live-1", "open")]
    wait_markers(page, {("order-open", t[36] + 2)})

    # The trader stops on a limit: the panel says why.
    store.save_status(status("stopped", reason="the daily loss reached 10", stop_rule="daily_loss"), ttl=60)
    page.wait("trading-state", attr="data-state", equals="stopped")
    page.wait("trading-reason", matches="daily loss reached 10")
    page.shot("trading-orders")


def test_the_stop_button_stops_trading(
    gateway: Gateway, page: Page, bus: Bus, rclient: redis.Redis, candles: list[Candle]
) -> None:
    store = OrderStore(rclient, bus.keys)
    store.save_status(status("trading"), ttl=60)
    page.do("open", url=f"{gateway.url}/?token={TOKEN}")
    page.wait("trading-state", attr="data-state", equals="trading")

    # It asks first; "No" leaves trading alone.
    page.do("click", testid="trading-stop")
    page.wait("trading-stop-question", matches="Stop placing orders")
    page.do("click", testid="trading-stop-cancel")
    page.wait_count("trading-stop-question", 0)
    assert store.stop() is None

    page.do("click", testid="trading-stop")
    page.do("click", testid="trading-stop-confirm")
    page.wait("trading-stop-answer", attr="data-ok", equals="true")
    assert store.stop() == ("kill_switch", "stopped by the trader (web app)")
    page.shot("trading-stopped")


def test_without_the_token_the_stop_button_is_refused(
    gateway: Gateway, page: Page, bus: Bus, rclient: redis.Redis, candles: list[Candle]
) -> None:
    store = OrderStore(rclient, bus.keys)
    page.do("open", url=gateway.url)  # a page that holds no token
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("click", testid="trading-stop")
    page.do("click", testid="trading-stop-confirm")
    page.wait("trading-stop-answer", attr="data-ok", equals="false")
    assert "token" in page.do("read", testid="trading-stop-answer")
    assert store.stop() is None
