"""The decision for a signal: mode, account, freshness, kill switch, reconciliation, stops."""

from __future__ import annotations

from dataclasses import replace

from quantumflux.bus.trading import Payout, Signal
from quantumflux.risk.rules import RiskLimits
from quantumflux.trader.engine import PlaceOrder, Refuse, StopTrading, Trader, TradeRules
from quantumflux.trader.reconcile import PageDeals
from tests.trader.orders import T0, deal, order

LIMITS = RiskLimits(stake=1.0, max_open=5, daily_loss=10.0, max_per_hour=100, max_losses=2, min_payout=0.8)
DEMO = TradeRules(mode="demo", limits=LIMITS, max_lateness=3.0, expiry=1, timeout=30.0)
CLOSE = T0  # the candle opened at T0 - 60 closes now


def signal(asset: str = "EURUSD_otc", direction: int = 1, time: float = CLOSE - 60, tf: int = 60) -> Signal:
    return Signal(
        id="s",
        asset=asset,
        timeframe=tf,
        time=int(time),
        direction=direction,
        confidence=0.7,
        strategy="quantum_flux",
        params=None,
        run="quantum_flux",
        price=1.1,
    )


def ready(rules: TradeRules = DEMO, is_demo: bool = True) -> Trader:
    ids = iter(str(n) for n in range(1, 1000))
    trader = Trader(rules, new_id=lambda: next(ids))
    trader.on_event("balance", {"balance": 100.0, "is_demo": is_demo}, T0 - 10)
    trader.on_payout(Payout("EURUSD_otc", T0 - 100, 92.0, True))
    trader.restore([], PageDeals(), T0 - 10)
    return trader


def test_a_fresh_signal_on_a_demo_page_places_an_order_with_its_frame() -> None:
    trader = ready()
    decision = trader.on_signal(signal(direction=-1), CLOSE + 0.4)
    assert isinstance(decision, PlaceOrder)
    o = decision.order
    assert (o.request_id, o.asset, o.action, o.amount, o.expiry, o.mode, o.state, o.ts) == (
        "1",
        "EURUSD_otc",
        "put",
        1.0,
        60,
        "demo",
        "requested",
        CLOSE + 0.4,
    )
    assert '"requestId":1' in decision.frame and '"action":"put"' in decision.frame
    assert trader.status(CLOSE + 0.4)["open_orders"] == [o.to_map()]


def test_trading_off_does_nothing() -> None:
    trader = ready(replace(DEMO, mode="off"))
    assert trader.on_signal(signal(), CLOSE) is None
    assert trader.status(CLOSE)["state"] == "off"


def test_stale_signals_are_counted_and_never_sent() -> None:
    trader = ready()
    late = trader.on_signal(signal(), CLOSE + 3.01)
    early = trader.on_signal(signal(time=CLOSE), CLOSE)  # its candle is still forming
    assert isinstance(late, Refuse) and late.rule == "stale"
    assert isinstance(early, Refuse) and early.rule == "stale"
    assert isinstance(trader.on_signal(signal(), CLOSE + 3.0), PlaceOrder)  # at the limit: fresh
    assert trader.stale == 2
    assert trader.status(CLOSE)["stale_signals"] == 2


def test_demo_is_refused_on_a_real_account_page_and_on_an_unknown_account() -> None:
    real_page = ready(is_demo=False)
    refusal = real_page.on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "not_demo"
    assert real_page.status(CLOSE)["state"] == "paused"

    unknown = Trader(DEMO)
    unknown.restore([], PageDeals(), T0)
    refusal = unknown.on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "account_unknown"
    assert "demo" in refusal.message


def test_a_deal_event_says_which_account_the_page_is_on() -> None:
    trader = Trader(DEMO)
    trader.restore([], PageDeals(), T0)
    trader.on_event(
        "deals", {"state": "open", "deals": [{"id": "X", "asset": "A", "amount": 1, "is_demo": True}]}, T0
    )
    assert trader.is_demo is True


def test_real_is_refused_without_the_confirmation_and_placed_with_it() -> None:
    real = replace(DEMO, mode="real")
    refusal = ready(real, is_demo=False).on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "real_not_confirmed"
    confirmed = ready(replace(real, real_money=True), is_demo=False).on_signal(signal(), CLOSE)
    assert isinstance(confirmed, PlaceOrder) and confirmed.order.mode == "real"
    assert '"isDemo":0' in confirmed.frame
    on_demo = ready(replace(real, real_money=True), is_demo=True).on_signal(signal(), CLOSE)
    assert isinstance(on_demo, Refuse) and on_demo.rule == "not_real"


def test_the_kill_switch_stops_new_orders_but_open_ones_are_followed() -> None:
    trader = ready()
    placed = trader.on_signal(signal(), CLOSE)
    assert isinstance(placed, PlaceOrder)
    trader.stop("stopped from the web app")
    refusal = trader.on_signal(signal(), CLOSE + 1)
    assert isinstance(refusal, Refuse) and refusal.rule == "stopped"
    opened = trader.on_event(
        "deal",
        {"state": "open", "id": "D1", "asset": "EURUSD_otc", "direction": "call", "amount": 1.0},
        CLOSE + 1,
    )
    assert [o.state for o in opened.orders] == ["open"]
    closed = trader.on_event(
        "deal",
        {
            "state": "closed",
            "id": "D1",
            "asset": "EURUSD_otc",
            "amount": 1.0,
            "profit": 0.92,
            "close_price": 1.2,
        },
        CLOSE + 61,
    )
    assert [(o.state, o.profit) for o in closed.orders] == [("closed", 0.92)]
    status = trader.status(CLOSE + 61)
    assert (status["state"], status["stop_rule"], status["reason"]) == (
        "stopped",
        "kill_switch",
        "stopped from the web app",
    )
    trader.resume()
    assert isinstance(trader.on_signal(signal(time=CLOSE), CLOSE + 60), PlaceOrder)


def test_losses_in_a_row_stop_trading_as_soon_as_the_close_is_seen() -> None:
    trader = ready()
    for n, deal_id in enumerate(("D1", "D2")):
        now = CLOSE + 60 * n
        assert isinstance(trader.on_signal(signal(time=now - 60), now), PlaceOrder)
        trader.on_event(
            "deal",
            {"state": "open", "id": deal_id, "asset": "EURUSD_otc", "direction": "call", "amount": 1.0},
            now + 0.5,
        )
        update = trader.on_event(
            "deals",
            {
                "state": "closed",
                "deals": [{"id": deal_id, "asset": "EURUSD_otc", "amount": 1.0, "profit": -1.0}],
            },
            now + 59,
        )
        assert [o.state for o in update.orders] == ["closed"]
    assert update.stop == StopTrading("losses_in_a_row", "2 losses in a row (limit 2)")
    refusal = trader.on_signal(signal(time=CLOSE + 60), CLOSE + 120)
    assert isinstance(refusal, Refuse) and refusal.rule == "stopped"
    assert trader.status(CLOSE + 120)["limits"]["max_losses"] == {"limit": 2, "used": 2}


def test_a_stopping_rule_met_by_a_signal_returns_the_stop() -> None:
    trader = ready(replace(DEMO, limits=replace(LIMITS, daily_loss=1.0)))
    trader.book.tally.add_closed(-1.0, CLOSE - 5)
    decision = trader.on_signal(signal(), CLOSE)
    assert isinstance(decision, StopTrading) and decision.rule == "daily_loss"
    assert trader.status(CLOSE)["state"] == "stopped"


def test_a_skip_is_counted_by_rule_and_trading_goes_on() -> None:
    trader = ready()
    refusal = trader.on_signal(signal(asset="GBPUSD_otc"), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "payout"
    trader.on_payout(Payout("EURUSD_otc", T0, 92.0, False))
    refusal = trader.on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "asset_closed"
    assert trader.status(CLOSE)["refused"] == {"payout": 1, "asset_closed": 1}
    assert trader.status(CLOSE)["state"] == "trading"


def test_chrome_lost_pauses_until_the_page_says_its_account_again() -> None:
    trader = ready()
    trader.on_event("chrome_status", {"state": "disconnected", "reason": "cannot reach Chrome"}, CLOSE)
    refusal = trader.on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "page_lost"
    assert trader.status(CLOSE)["reason"] == "paused: Chrome lost (cannot reach Chrome)"
    trader.on_event("chrome_status", {"state": "reconnected"}, CLOSE + 1)
    refusal = trader.on_signal(signal(), CLOSE + 1)
    assert isinstance(refusal, Refuse) and refusal.rule == "account_unknown"
    trader.on_event("balance", {"balance": 100.0, "is_demo": True}, CLOSE + 1.5)
    assert isinstance(trader.on_signal(signal(), CLOSE + 2), PlaceOrder)


def test_nothing_is_placed_until_the_last_runs_orders_are_reconciled() -> None:
    trader = Trader(DEMO, new_id=lambda: "new")
    trader.on_event("balance", {"balance": 100.0, "is_demo": True}, T0)
    trader.on_payout(Payout("EURUSD_otc", T0, 92.0, True))
    refusal = trader.on_signal(signal(), CLOSE)
    assert isinstance(refusal, Refuse) and refusal.rule == "reconciling"
    update = trader.restore([order("old", ts=CLOSE - 5)], PageDeals(), CLOSE)
    assert update.orders == []  # sent 5 s ago: it may still be answered
    refusal = trader.on_signal(signal(), CLOSE + 1)
    assert isinstance(refusal, Refuse) and refusal.rule == "reconciling"
    expired = trader.tick(CLOSE + 25)
    assert [(o.request_id, o.state) for o in expired.orders] == [("old", "unknown")]
    assert trader.reconciled
    assert isinstance(trader.on_signal(signal(time=CLOSE + 25 - 60), CLOSE + 25), PlaceOrder)


def test_a_restart_restores_results_and_closes_what_the_page_saw_close() -> None:
    trader = Trader(DEMO)
    records = [
        order("1", ts=T0 - 300),
        order("1", ts=T0 - 299, state="open", deal_id="D1"),
        order("1", ts=T0 - 240, state="closed", deal_id="D1", profit=-1.0),
        order("2", ts=T0 - 100),
        order("2", ts=T0 - 99, state="open", deal_id="D2"),
    ]
    page = PageDeals(closed=(deal("closed", "D2", profit=-1.0, close_price=1.0),))
    update = trader.restore(records, page, T0)
    assert [(o.request_id, o.state, o.profit) for o in update.orders] == [("2", "closed", -1.0)]
    assert trader.reconciled
    assert trader.book.tally.streak == 2
    assert trader.book.tally.last_hour(T0) == 2


def test_a_share_of_the_balance_is_rounded_down_to_cents_and_never_below_the_smallest_amount() -> None:
    rules = replace(DEMO, limits=replace(LIMITS, fraction=0.03, min_stake=1.0))
    trader = ready(rules)
    trader.on_event("balance", {"balance": 66.33, "is_demo": True}, CLOSE)
    decision = trader.on_signal(signal(), CLOSE)
    assert isinstance(decision, PlaceOrder) and decision.order.amount == 1.98  # 1.9899
    trader.on_event("balance", {"balance": 33.3, "is_demo": True}, CLOSE)
    refusal = trader.on_signal(signal(), CLOSE)  # 0.999: below 1
    assert isinstance(refusal, Refuse) and refusal.rule == "stake"
