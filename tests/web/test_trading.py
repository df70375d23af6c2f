"""Signals, paper trades and the user's own deals on the live chart, in a real Chromium against a
real gateway; published to Redis the way the signals service and ingest do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from quantumflux.bus.records import Candle, pack_map
from tests.gateway.entries import paper_map, signal_map
from tests.web.helpers import Bus, Gateway, Page, publish_recent, served_gateway, wait_markers

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ASSET = "EURUSD_otc"
BOOK = "rsi(period=14)|EURUSD_otc|1m"


@pytest.fixture
def candles(bus: Bus) -> list[Candle]:
    return publish_recent(bus, ASSET, seed=3)


@pytest.fixture
def gateway(test_env: dict[str, str], tmp_path: Path, candles: object) -> Iterator[Gateway]:
    with served_gateway(test_env, tmp_path) as gw:
        yield gw


def signal(t: int, direction: int) -> dict[str, Any]:
    return signal_map(
        ASSET, 60, t, direction, id=f"{BOOK}#{t}", confidence=0.8, price=1.1, contract=f"{BOOK}#{t}"
    )


def paper(kind: str, t: int, **numbers: Any) -> dict[str, Any]:
    return paper_map(kind, t, id=f"{BOOK}#{t}", confidence=0.8, **numbers)


def test_signals_paper_trades_and_deals_on_the_chart(
    gateway: Gateway, page: Page, bus: Bus, rclient: redis.Redis, candles: list[Candle]
) -> None:
    keys = bus.keys
    t = [c.time for c in candles]
    # Before the page opens: two signals, a won and a lost paper trade, and one of the user's deals.
    rclient.xadd(keys.signals(), {"d": pack_map(signal(t[30], 1))})
    rclient.xadd(keys.signals(), {"d": pack_map(signal(t[33], -1))})
    won = paper("settle", t[30], expiry_price=1.2, outcome=1, pnl=8.0, balance=1008.0, trades=1, wins=1)
    lost = paper(
        "settle",
        t[33],
        direction=-1,
        expiry_price=1.2,
        outcome=-1,
        pnl=-10.0,
        balance=998.0,
        trades=2,
        wins=1,
        losses=1,
        total_pnl=-2.0,
    )
    won["total_pnl"] = 8.0
    for p in (paper("open", t[30]), won, paper("open", t[33]), lost):
        rclient.xadd(keys.paper(), {"d": pack_map(p)})
    deal = {
        "state": "closed",
        "id": "deal-1",
        "asset": ASSET,
        "direction": "put",
        "amount": 25.0,
        "open_time": t[20] + 5,
        "close_time": t[21] + 5,
        "open_price": 1.1,
        "close_price": 1.0,
        "profit": 21.5,
        "payout_percent": 86,
        "is_demo": True,
        "currency": "USD",
    }
    bus.event("deal", **deal)
    bus.event("balance", balance=1021.5, is_demo=True)

    page.do("open", url=gateway.url)
    page.wait("connection-status", attr="data-state", equals="connected")
    page.do("select", testid="asset-select", value=ASSET)
    page.wait("candle-count", matches=rf"^{len(candles)} candles$")
    drawn = wait_markers(
        page,
        {
            ("signal", t[30]),
            ("signal", t[33]),
            ("paper-won", t[31]),
            ("paper-lost", t[34]),
            ("deal-open", t[20] + 5),
            ("deal-closed", t[21] + 5),
        },
    )
    texts = {(m["kind"], m["time"]): m["text"] for m in drawn}
    assert texts[("signal", t[30])] == "call 80%"
    assert texts[("signal", t[33])] == "put 80%"
    assert texts[("paper-won", t[31])] == "won +8.00"
    assert texts[("paper-lost", t[34])] == "lost −10.00"
    assert texts[("deal-open", t[20] + 5)] == "you: put 25"
    assert texts[("deal-closed", t[21] + 5)] == "you +21.50"

    # The paper panel: the book's latest numbers and the total P/L.
    page.wait("paper-total", attr="data-value", equals="-2")
    page.wait("paper-book", attr="data-balance", equals="998")
    assert page.do("read", testid="paper-book", attr="data-trades") == "2"
    page.wait("paper-panel", matches=r"50%")
    # The account panel: balance and the closed deals' profit.
    page.wait("account-balance", attr="data-value", equals="1021.5")
    page.wait("account-profit", attr="data-value", equals="21.5")

    # Live: a new signal, a voided paper trade and a second deal reach the open page.
    rclient.xadd(keys.signals(), {"d": pack_map(signal(t[36], 1))})
    rclient.xadd(
        keys.paper(),
        {
            "d": pack_map(
                paper(
                    "void",
                    t[36],
                    reason="gap",
                    balance=998.0,
                    trades=2,
                    wins=1,
                    losses=1,
                    voided=1,
                    total_pnl=-2.0,
                )
            )
        },
    )
    bus.event("deal", **{**deal, "id": "deal-2", "open_time": t[25], "close_time": t[26], "profit": -25.0})
    bus.event("balance", balance=996.5, is_demo=True)
    wait_markers(page, {("signal", t[36]), ("paper-void", t[37]), ("deal-closed", t[26])})
    page.wait("account-profit", attr="data-value", equals="-3.5")
    page.wait("account-balance", attr="data-value", equals="996.5")
    assert page.do("read", testid="paper-book", attr="data-balance") == "998"
    page.shot("trading-markers-and-panels")
