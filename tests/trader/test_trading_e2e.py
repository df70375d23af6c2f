"""The trader service end to end: a real headless Chromium on the simulated broker, ingest
capturing the page, the trader sending through the page, everything read back from Redis and
from the simulator's own truth files."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantumflux.ingest.chrome import Chromium
from tests.ingest.stack import ROOT, wait_until
from tests.trader.stack import TF, Market, Receiver, open_market

pytestmark = pytest.mark.browser

SESSION_SECONDS = 45


@pytest.fixture
def market(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> Iterator[Market]:
    yield from open_market(chromium.http_url, test_env, redis_url, prefix, tmp_path)


def next_close() -> float:
    """Sleep to just after the next 5-second close (when a strategy on 5 s candles decides)."""
    close = (int(time.time()) // TF + 1) * TF
    time.sleep(max(0.0, close + 0.2 - time.time()))
    return close


def settled(market: Market) -> bool:
    return all(o.state in ("closed", "rejected", "unknown") for o in market.latest().values())


def qf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_to_one(market: Market) -> None:
    """Every order has exactly one result; the broker's deals are the orders; the balance agrees."""
    orders = market.latest()
    history = market.orders()
    deals = market.deals()
    # every order has exactly one result, and it closed
    for rid in orders:
        states = [o.state for o in history if o.request_id == rid]
        assert states == ["requested", "open", "closed"], (rid, states)
    # the broker's deals are QuantumFlux's orders, one to one
    assert sorted(str(d["request_id"]) for d in deals) == sorted(orders)
    by_deal = {o.deal_id: o for o in orders.values()}
    for d in deals:
        order = by_deal[d["id"]]
        assert (order.asset, order.action, order.amount, order.expiry) == (
            d["asset"],
            d["action"],
            d["amount"],
            TF,
        )
        assert (order.open_price, order.close_price, order.profit) == (
            d["open_price"],
            d["close_price"],
            d["profit"],
        )
    # the balance moved by the sum of the profits
    balances = market.balances()
    assert balances[-1] - balances[0] == pytest.approx(sum(o.profit or 0 for o in orders.values()), abs=1e-6)


def test_a_demo_session_trades_one_to_one_with_the_broker_and_stops_on_the_kill_switch(
    market: Market,
) -> None:
    receiver = Receiver()
    try:
        trader = market.trader(QF_NOTIFY=receiver.url)
        market.wait_trading(trader)
        # Signals of the history catch-up (old candles published now) place nothing.
        for back in (60, 300, 3600):
            market.signal(+1, closed_at=(time.time() - back) // TF * TF)
        end = time.time() + SESSION_SECONDS
        direction = 1
        while time.time() < end:
            next_close()
            market.signal(direction, asset="EURUSD_otc" if direction > 0 else "GBPUSD_otc")
            direction = -direction
        # An order by hand goes through the same rules and the same path.
        manual = qf(market.env, "trade", "put", "GBPUSD_otc", "--amount", "2", "--expiry", str(TF))
        assert manual.returncode == 0, manual.stderr
        assert any(o.amount == 2 and o.action == "put" for o in market.latest().values())
        shown = qf(market.env, "trade", "status")
        assert shown.returncode == 0 and "Limits" in shown.stdout and "demo" in shown.stdout
        # The trader has read the last signal once its status is newer than it; then all settle.
        last = time.time()
        wait_until(lambda: market.status().get("ts", 0) > last + 0.1, guard=10, what="the last signal read")
        wait_until(lambda: settled(market), guard=60, what="every order to be settled")

        # The kill switch: new signals place nothing within a second; what is open is still followed.
        before = len(market.latest())
        assert qf(market.env, "trade", "stop").returncode == 0
        # heard within a second of the command
        wait_until(lambda: market.status().get("state") == "stopped", guard=1.0, what="the stop")
        for _ in range(2):
            next_close()
            market.signal(+1)
        time.sleep(1.5)
        assert len(market.latest()) == before

        orders = market.latest()
        assert len(orders) >= SESSION_SECONDS // TF // 2, trader.output()
        assert_one_to_one(market)
        # notices reached the local receiver: orders opened and closed, and the stop
        titles = wait_until(
            lambda: "QuantumFlux: Trading stopped" in receiver.titles() and receiver.titles(), guard=15
        )
        assert sum(t == "QuantumFlux: Order opened" for t in titles) == len(orders)
        assert any(
            t.startswith("QuantumFlux: Order won") or t.startswith("QuantumFlux: Order lost") for t in titles
        )
        status = market.status()
        assert status["stale_signals"] >= 3 and status["stop_rule"] == "kill_switch"
        assert trader.stop() == 0, trader.output()
    finally:
        receiver.close()


def test_a_trader_killed_between_sending_and_the_reply_never_sends_twice(market: Market) -> None:
    trader = market.trader()
    market.wait_trading(trader)
    # The broker is frozen: the frame goes out through the page, the answer cannot come yet.
    market.sim.proc.send_signal(19)  # SIGSTOP
    try:
        next_close()
        market.signal(+1)
        try:
            wait_until(lambda: market.orders(), guard=10, what="the order stored as requested")
        except AssertionError:
            raise AssertionError(f"{market.status()} {trader.output()}") from None
        wait_until(
            lambda: "sent:" in trader.output() or " sent: " in trader.output(),
            guard=10,
            what="the frame sent",
        )
        trader.kill()
        [requested] = market.orders()
        assert requested.state == "requested"
    finally:
        market.sim.proc.send_signal(18)  # SIGCONT
    # The broker answers while no trader runs; a new trader reconciles before placing anything.
    wait_until(lambda: market.deals(), guard=30, what="the deal to settle at the broker")
    again = market.trader()
    try:
        wait_until(
            lambda: market.latest()[requested.request_id].state == "closed", guard=30, what="reconciling"
        )
    except AssertionError:
        raise AssertionError(
            f"{market.orders()} {market.deals()} {again.output()} {market.status()}"
        ) from None
    market.wait_trading(again)
    states = [o.state for o in market.orders()]
    assert states[0] == "requested" and states[-1] == "closed" and states.count("requested") == 1
    [deal] = market.deals()
    assert str(deal["request_id"]) == requested.request_id
    assert market.latest()[requested.request_id].deal_id == deal["id"]
    assert again.stop() == 0, again.output()


def test_a_risk_rule_stops_trading_at_its_limit(market: Market) -> None:
    trader = market.trader(QF_TRADE_MAX_LOSSES="1", QF_TRADE_MAX_OPEN="1", QF_TRADE_SCREENSHOTS="true")
    market.wait_trading(trader)
    direction = 1
    deadline = time.time() + 120
    while market.status().get("state") != "stopped":
        assert time.time() < deadline, "no loss in two minutes"
        next_close()
        market.signal(direction)
        direction = -direction
    status = market.status()
    assert status["stop_rule"] == "losses_in_a_row"
    closed = [o for o in market.latest().values() if o.state == "closed"]
    assert closed and (closed[-1].profit or 0) < 0
    count = len(market.latest())
    next_close()
    market.signal(+1)
    time.sleep(1.5)
    assert len(market.latest()) == count
    # a picture of the broker's tab was kept at each order, beside the audit
    screens = Path(market.env["QF_DATA_DIR"]) / "orders" / "screens"
    for rid in market.latest():
        assert (screens / f"{rid}.png").read_bytes().startswith(b"\x89PNG")
    assert trader.stop() == 0, trader.output()


@pytest.fixture
def real_market(
    chromium: Chromium,
    test_env: dict[str, str],
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Market]:
    monkeypatch.setenv("QF_SIM_REAL_ACCOUNT", "1")  # read by the simulator started below
    yield from open_market(chromium.http_url, test_env, redis_url, prefix, tmp_path)


def test_a_real_account_page_gets_nothing_without_the_real_money_confirmation(real_market: Market) -> None:
    market = real_market
    assert market.js("ACCOUNT_IS_DEMO") == 0
    refused = qf({**market.env, "QF_TRADE": "real"}, "trader")
    assert refused.returncode == 2 and "--real-money" in refused.stderr
    trader = market.trader()  # QF_TRADE=demo on a real-account page
    status = market.wait_trading(trader, state="paused")
    assert "real account" in status["reason"]
    next_close()
    market.signal(+1)
    time.sleep(1.5)
    manual = qf(market.env, "trade", "call", "EURUSD_otc", "--amount", "2", "--expiry", "60")
    assert manual.returncode == 1 and "real account" in manual.stderr
    assert market.orders() == [] and market.deals() == []
    assert market.status()["refused"].get("not_demo") == 2
    assert trader.stop() == 0, trader.output()
