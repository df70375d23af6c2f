"""A whole session: the broker's frames through ingest's decoder into the trader, and the orders it publishes."""

from __future__ import annotations

import base64
import json
from typing import Any

from quantumflux.bus.records import Event
from quantumflux.bus.trading import Order, Payout, Signal
from quantumflux.ingest.decode import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.risk.rules import RiskLimits
from quantumflux.trader.engine import PlaceOrder, Refuse, StopTrading, Trader, TradeRules
from quantumflux.trader.reconcile import PageDeals

URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
T0 = 1_800_000_000  # a whole minute, UTC
RULES = TradeRules(
    mode="demo",
    limits=RiskLimits(stake=1.0, max_open=2, daily_loss=10.0, max_per_hour=10, max_losses=2, min_payout=0.8),
    max_lateness=3.0,
    expiry=1,
    timeout=30.0,
)


def received(ts: float, name: str, body: Any) -> list[Frame]:
    """A binary event as the broker sends it: the 451- header, then the JSON body."""
    blob = base64.b64encode(json.dumps(body).encode()).decode()
    header = f'451-["{name}",{{"_placeholder":true,"num":0}}]'
    return [Frame(ts, "recv", "S", URL, 1, header), Frame(ts + 0.0002, "recv", "S", URL, 2, blob)]


def deal_body(deal_id: str, opened: float, command: int, price: float, **changes: Any) -> dict[str, Any]:
    body = {
        "id": deal_id,
        "openTimestamp": int(opened),
        "closeTimestamp": int(opened) + 60,
        "isDemo": 1,
        "amount": 1,
        "profit": 0.92,
        "percentProfit": 92,
        "openPrice": price,
        "closePrice": 0,
        "command": command,
        "asset": "EURUSD_otc",
        "currency": "USD",
    }
    body.update(changes)
    return body


def signal(time: int, direction: int) -> Signal:
    return Signal("s", "EURUSD_otc", 60, time, direction, 0.8, "quantum_flux", None, "quantum_flux", 1.1)


class Session:
    """The decoder and the trader, wired as the shell will wire them; keeps what is published."""

    def __init__(self) -> None:
        ids = iter(["1001", "1002", "1003", "1004"])
        self.decoder = Decoder()
        self.trader = Trader(RULES, new_id=lambda: next(ids))
        self.published: list[Order] = []
        self.stops: list[StopTrading] = []

    def feed(self, frames: list[Frame]) -> None:
        for frame in frames:
            for record in self.decoder.feed(frame):
                assert isinstance(record, Event)
                update = self.trader.on_event(record.type, record.data, frame.ts)
                self.published += update.orders
                self.stops += [update.stop] if update.stop else []

    def on_signal(self, sig: Signal, now: float) -> object:
        decision = self.trader.on_signal(sig, now)
        if isinstance(decision, PlaceOrder):
            self.published.append(decision.order)  # stored first ...
            self.feed([Frame(now + 0.01, "sent", "S", URL, 1, decision.frame)])  # ... then sent
        return decision


def test_a_session_replayed_from_frames_publishes_the_expected_orders() -> None:
    s = Session()
    s.feed(received(T0 - 30, "successupdateBalance", {"isDemo": 1, "balance": 100}))
    s.feed(received(T0 - 29, "updateOpenedDeals", []))
    s.trader.on_payout(Payout("EURUSD_otc", T0 - 60, 92.0, True))
    assert s.trader.restore([], PageDeals(), T0 - 29).orders == []

    # Two orders of the same asset and amount; the broker refuses one: the older one is meant.
    assert isinstance(s.on_signal(signal(T0 - 60, 1), T0 + 0.3), PlaceOrder)
    assert isinstance(s.on_signal(signal(T0 - 60, -1), T0 + 0.4), PlaceOrder)
    too_many = s.on_signal(signal(T0 - 60, 1), T0 + 0.5)
    assert isinstance(too_many, Refuse) and too_many.rule == "max_open"
    s.feed(
        received(
            T0 + 0.6, "failopenOrder", {"error": "Too many requests", "amount": 1, "asset": "EURUSD_otc"}
        )
    )
    s.feed(received(T0 + 0.8, "successopenOrder", deal_body("D2", T0 + 0.8, 1, 1.1, requestId=1002)))
    # The put loses: the close comes as successcloseOrder and again in the closed list.
    closed = deal_body("D2", T0 + 0.8, 1, 1.1, closePrice=1.2, profit=-1)
    s.feed(received(T0 + 61, "successcloseOrder", {"profit": 0, "deals": [closed]}))
    s.feed(received(T0 + 61.1, "updateClosedDeals", [closed]))

    # A second loss, closed by the list alone, stops trading.
    assert isinstance(s.on_signal(signal(T0 + 60, 1), T0 + 120.2), PlaceOrder)
    s.feed(received(T0 + 120.5, "successopenOrder", deal_body("D3", T0 + 120.5, 0, 1.3)))
    s.feed(
        received(
            T0 + 181, "updateClosedDeals", [deal_body("D3", T0 + 120.5, 0, 1.3, closePrice=1.25, profit=-1)]
        )
    )
    assert [st.rule for st in s.stops] == ["losses_in_a_row"]
    refusal = s.on_signal(signal(T0 + 120, 1), T0 + 180.5)
    assert isinstance(refusal, Refuse) and refusal.rule == "stopped"

    got = [
        (o.request_id, o.action, o.state, o.deal_id, o.close_price, o.profit, o.reason) for o in s.published
    ]
    assert got == [
        ("1001", "call", "requested", None, None, None, None),
        ("1002", "put", "requested", None, None, None, None),
        ("1001", "call", "rejected", None, None, None, "Too many requests"),
        ("1002", "put", "open", "D2", None, None, None),
        ("1002", "put", "closed", "D2", 1.2, -1.0, None),
        ("1003", "call", "requested", None, None, None, None),
        ("1003", "call", "open", "D3", None, None, None),
        ("1003", "call", "closed", "D3", 1.25, -1.0, None),
    ]
    status = s.trader.status(T0 + 181)
    assert status["results"]["losses"] == 2 and status["results"]["today_pnl"] == -2.0
    assert status["open_orders"] == []
