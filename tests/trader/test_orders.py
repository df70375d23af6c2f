"""The order book: the openOrder frame, and each order's state moved by the broker's answers."""

from __future__ import annotations

import json

from quantumflux.trader.orders import OrderBook, new_request_id, order_frame
from tests.trader.orders import T0, deal, order


def book(*orders: object) -> OrderBook:
    b = OrderBook(timeout=30.0)
    for o in orders:
        b.request(o)  # type: ignore[arg-type]
    return b


def test_the_frame_is_the_pages_own_open_order() -> None:
    frame = order_frame(order("123456", amount=2.5, action="put", expiry=300))
    assert frame.startswith('42["openOrder",')
    name, body = json.loads(frame[2:])
    assert name == "openOrder"
    assert body == {
        "asset": "EURUSD_otc",
        "amount": 2.5,
        "action": "put",
        "isDemo": 1,
        "requestId": 123456,
        "optionType": 100,
        "time": 300,
    }
    assert json.loads(order_frame(order("ab-1", mode="real"))[2:])[1]["requestId"] == "ab-1"
    assert json.loads(order_frame(order("1", mode="real"))[2:])[1]["isDemo"] == 0


def test_request_ids_come_from_the_draw_given() -> None:
    assert new_request_id(lambda n: 7) == "100000000007"
    assert new_request_id() != new_request_id()


def test_a_refusal_goes_to_the_oldest_pending_order_of_that_asset_and_amount() -> None:
    b = book(order("1", ts=T0), order("2", ts=T0 + 1), order("3", amount=2.0, ts=T0 + 2))
    refusal = deal("failed", None, action=None, error="not enough money")
    first = b.on_deal(refusal, T0 + 3)
    assert [(o.request_id, o.state, o.reason) for o in first] == [("1", "rejected", "not enough money")]
    second = b.on_deal(refusal, T0 + 4)
    assert [(o.request_id, o.state) for o in second] == [("2", "rejected")]
    assert b.on_deal(refusal, T0 + 5) == []  # order 3 is of another amount
    assert b.orders["3"].state == "requested"


def test_an_open_deal_names_its_order_by_request_id_before_any_guess() -> None:
    b = book(order("1"), order("2"))
    out = b.on_deal(deal("open", "D2", request_id="2", open_price=1.1), T0 + 1)
    assert [(o.request_id, o.state, o.deal_id, o.open_price) for o in out] == [("2", "open", "D2", 1.1)]
    out = b.on_deal(deal("open", "D1"), T0 + 2)  # no requestId: the oldest of asset, amount, direction
    assert [(o.request_id, o.deal_id) for o in out] == [("1", "D1")]
    assert b.on_deal(deal("open", "D1"), T0 + 3) == []  # the same answer twice changes nothing


def test_the_users_own_deals_change_no_order() -> None:
    b = book(order("1"))
    assert b.on_deal(deal("open", "X", asset="GBPUSD_otc"), T0 + 1) == []
    assert b.on_deal(deal("open", "X", action="put"), T0 + 1) == []
    assert b.on_list("open", [deal("open", "Y")], T0 + 1) == []  # a list never guesses
    assert b.on_deal(deal("closed", "Z", profit=5.0), T0 + 1) == []
    assert b.orders["1"].state == "requested"


def test_a_close_is_matched_by_deal_id_and_counted() -> None:
    b = book(order("1"))
    b.on_deal(deal("open", "D1", open_price=1.1), T0 + 1)
    out = b.on_list("closed", [deal("closed", "D1", open_price=1.1, close_price=1.0, profit=-1.0)], T0 + 61)
    assert [(o.state, o.close_price, o.profit, o.ts) for o in out] == [("closed", 1.0, -1.0, T0 + 61)]
    assert (b.tally.losses, b.tally.streak, b.tally.today_pnl(T0 + 61)) == (1, 1, -1.0)
    assert b.on_deal(deal("closed", "D1", profit=-1.0), T0 + 62) == []  # not counted twice
    assert b.tally.losses == 1


def test_no_answer_in_time_makes_an_order_unknown_and_a_late_answer_still_settles_it() -> None:
    b = book(order("1"))
    assert b.expire(T0 + 29.9) == []
    out = b.expire(T0 + 30)
    assert [(o.state, o.reason) for o in out] == [("unknown", "no answer from the broker within 30 s")]
    assert b.on_deal(deal("open", "D1"), T0 + 31) == []  # no guessing for an unknown order
    out = b.on_deal(deal("open", "D1", request_id="1"), T0 + 32)
    assert [o.state for o in out] == ["open"]


def test_an_open_order_never_closed_becomes_unknown_after_its_expiry_and_the_time_out() -> None:
    b = book(order("1"))
    b.on_deal(deal("open", "D1"), T0 + 1)
    assert b.expire(T0 + 1 + 60 + 29) == []
    assert [o.state for o in b.expire(T0 + 1 + 60 + 30)] == ["unknown"]
    out = b.on_list("closed", [deal("closed", "D1", profit=0.92)], T0 + 100)
    assert [(o.state, o.profit) for o in out] == [("closed", 0.92)]


def test_a_frame_that_could_not_be_sent_rejects_its_order() -> None:
    b = book(order("1"))
    out = b.send_failed("1", "the page's socket is closed", T0 + 1)
    assert [(o.state, o.reason) for o in out] == [("rejected", "the page's socket is closed")]
    assert b.send_failed("1", "again", T0 + 2) == []
    assert b.live == []
