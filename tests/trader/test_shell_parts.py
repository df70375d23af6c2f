"""The shell's own parts without a browser: the openOrder frame the bridge lets through, the
notices sent to a real local webhook receiver, the order store on a real Redis."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from quantumflux.bridge import ALLOWED_EVENTS, NotAllowed, outgoing_frame
from quantumflux.bus.keys import Keys
from quantumflux.trader.notices import event_notice, order_notice, stop_notice
from quantumflux.trader.notify import Notifier
from quantumflux.trader.orders import order_frame
from quantumflux.trader.store import OrderStore
from tests.ingest.stack import wait_until
from tests.trader.orders import order
from tests.trader.stack import Receiver

BODY = {
    "asset": "EURUSD_otc",
    "amount": 1.5,
    "action": "call",
    "isDemo": 1,
    "requestId": 123456789012,
    "optionType": 100,
    "time": 60,
}


def test_the_cores_order_frame_passes_the_bridge_unchanged() -> None:
    frame = order_frame(order("123456789012", amount=1.5))
    event, body = json.loads(frame[2:])
    assert ALLOWED_EVENTS["openOrder"] == frozenset(BODY)
    assert outgoing_frame(event, body) == frame


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"action": "buy"}, "call or put"),
        ({"optionType": 101}, "optionType"),
        ({"amount": 0}, "above 0"),
        ({"amount": "1"}, "above 0"),
        ({"time": 4}, "at least 5"),
        ({"time": 5.5}, "whole seconds"),
        ({"isDemo": 2}, "isDemo"),
        ({"requestId": None}, "requestId"),
        ({"asset": ""}, "asset"),
        ({"cookie": "x"}, "exactly the fields"),
    ],
)
def test_an_order_the_page_would_not_send_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(NotAllowed, match=why):
        outgoing_frame("openOrder", BODY | change)


def test_notices_reach_a_local_webhook_in_order_without_holding_up_the_caller() -> None:
    receiver = Receiver()
    notifier = Notifier([receiver.url])
    try:
        opened = order("1", state="open", open_price=1.1)
        started = time.monotonic()
        notifier.tell(order_notice(opened))
        notifier.tell(stop_notice("daily_loss", "today's loss 10.00 reached the daily limit 10"))
        notifier.tell(event_notice({"type": "chrome_status", "state": "disconnected", "reason": "closed"}))
        notifier.tell(event_notice({"type": "report", "report": "protocol", "summary": "2 new events"}))
        notifier.tell(order_notice(order("2")))  # a requested order is not worth a message
        assert time.monotonic() - started < 0.5
        wait_until(lambda: len(receiver.bodies) >= 4, guard=30, what="four notices")
        assert receiver.titles() == [
            "QuantumFlux: Order opened",
            "QuantumFlux: Trading stopped: limit reached",
            "QuantumFlux: Chrome lost",
            "QuantumFlux: Protocol drift",
        ]
        assert "2 new events" in receiver.bodies[3]["message"]
    finally:
        notifier.close()
        receiver.close()
    assert notifier.sent == 4 and notifier.failed == 0


def test_the_store_keeps_orders_in_flight_and_publishes_every_change(
    rclient: redis.Redis, prefix: str
) -> None:
    store = OrderStore(rclient, Keys(prefix))
    first, second = order("1"), order("2", asset="GBPUSD_otc")
    store.save([first, second])
    closed = order("1", state="closed", deal_id="d", profit=0.92, ts=first.ts + 60)
    store.save([closed])
    assert store.kept() == [second]
    assert [(o.request_id, o.state) for o in store.history(0)] == [
        ("1", "requested"),
        ("2", "requested"),
        ("1", "closed"),
    ]
    store.save_stop("kill_switch", "stopped by hand")
    assert store.stop() == ("kill_switch", "stopped by hand")
    store.clear_stop()
    assert store.stop() is None
