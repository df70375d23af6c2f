"""The simulated demo account on its own: orders, settlement by the engine's rules, the broker's shapes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from quantumflux.bus.records import Event
from quantumflux.ingest.decoder import Decoder
from quantumflux.sim.deals import SimAccount, outcome
from quantumflux.sim.feed import as_frames

START = 1781423520.0
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def order(action: str = "call", amount: Any = 10, time: Any = 60, asset: str = "EURUSD_otc", rid: int = 7):
    return {
        "asset": asset,
        "amount": amount,
        "action": action,
        "isDemo": 1,
        "requestId": rid,
        "optionType": 100,
        "time": time,
    }


def notes_sample(event: str) -> dict[str, Any]:
    """The body of an event in the decoder fixture built from the notes' verbatim samples."""
    lines = [json.loads(x) for x in (FIXTURES / "deals.jsonl").read_text().splitlines()]
    for i, line in enumerate(lines):
        if line["payload"].startswith(f'451-["{event}"'):
            return json.loads(base64.b64decode(lines[i + 1]["payload"]))
    raise AssertionError(event)


def quotes(prices: dict[str, float]):  # type: ignore[no-untyped-def]
    return prices.get


PAYOUT = {"EURUSD_otc": 92, "GBPUSD_otc": 85}.get


def test_outcome_follows_the_engine_rules() -> None:
    assert outcome(0, 1.1, 1.2) == 1 and outcome(0, 1.2, 1.1) == -1 and outcome(0, 1.1, 1.1) == 0
    assert outcome(1, 1.2, 1.1) == 1 and outcome(1, 1.1, 1.2) == -1 and outcome(1, 1.1, 1.1) == 0


def test_open_then_settle_a_win_a_loss_and_a_tie() -> None:
    acc = SimAccount(broker_offset=7200)
    prices = {"EURUSD_otc": 1.08452, "GBPUSD_otc": 1.33319}
    now = START + 0.25
    opened = []
    for action, asset, amount in [
        ("call", "EURUSD_otc", 10),
        ("put", "GBPUSD_otc", 5),
        ("call", "GBPUSD_otc", 3),
    ]:
        events = acc.place(
            order(action, amount, 60, asset), now=now, quote=prices.get, payout=PAYOUT, owner="me"
        )
        assert [n for n, _ in events] == ["successopenOrder", "updateOpenedDeals", "successupdateBalance"]
        opened.append(events[0][1])
    assert acc.balance == 10000 - 18
    assert events[2][1] == {"isDemo": 1, "balance": 9982.0}
    assert [d["id"] for d in events[1][1]] == [d["id"] for d in opened]
    first = opened[0]
    assert first["openTimestamp"] == int(START + 7200) and first["openMs"] == 250
    assert first["closeTimestamp"] == int(START + 7200) + 60
    assert first["closePrice"] == 0 and first["profit"] == 9.2 and first["command"] == 0
    assert acc.next_close() == START + 60

    assert acc.settle(START + 59.999, prices.get) == []
    prices.update({"EURUSD_otc": 1.08460, "GBPUSD_otc": 1.33319})  # EUR up: call wins; GBP flat: ties
    settled = acc.settle(START + 60, prices.get)
    assert [owner for owner, _ in settled] == ["me", "me", "me"]
    closes = [dict(events)["successcloseOrder"] for _, events in settled]
    assert [c["deals"][0]["profit"] for c in closes] == [9.2, 0.0, 0.0]
    assert [c["profit"] for c in closes] == [19.2, 5.0, 3.0]  # what the balance gets back
    assert acc.balance == 10000 - 18 + 19.2 + 5 + 3
    last = dict(settled[-1][1])
    assert last["updateOpenedDeals"] == []
    assert [d["id"] for d in last["updateClosedDeals"]] == [d["id"] for d in reversed(opened)]
    assert last["successupdateBalance"] == {"isDemo": 1, "balance": acc.balance}

    acc.place(order("put", 20), now=START + 61, quote=prices.get, payout=PAYOUT)
    prices["EURUSD_otc"] = 1.08470  # up: the put loses its stake
    [(_, events)] = acc.settle(START + 200, prices.get)
    close = dict(events)["successcloseOrder"]
    assert close["profit"] == 0.0 and close["deals"][0]["profit"] == -20.0
    assert acc.balance == round(10000 - 18 + 19.2 + 5 + 3 - 20, 2)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (order(asset="NOPE_otc"), "This asset is not available."),
        (order(action="buy"), "Choose call or put."),
        (order(amount="10"), "The amount is not a number."),
        (order(amount=0.5), "The minimum amount is 1."),
        (order(amount=20000), "Not enough money"),
        (order(time=0), "expiration"),
        (order(time=4), "expiration"),
        (order(time=43_201), "expiration"),
        (order(time=30.5), "expiration"),
    ],
)
def test_refused_orders_get_failopenorder(body: dict[str, Any], error: str) -> None:
    acc = SimAccount()
    [(name, reply)] = acc.place(body, now=START, quote={"EURUSD_otc": 1.1}.get, payout=PAYOUT)
    assert name == "failopenOrder"
    assert reply == {
        "error": error,
        "amount": body["amount"],
        "asset": body["asset"],
        "isDemo": 1,
        "requestId": 7,
    }
    assert acc.balance == 10000.0 and acc.open == []


def test_bodies_have_the_notes_sample_fields_and_decode_like_them() -> None:
    acc = SimAccount(broker_offset=7200)
    prices = {"EURUSD_otc": 1.08452}
    events = acc.place(order(), now=START + 0.37, quote=prices.get, payout=PAYOUT)
    prices["EURUSD_otc"] = 1.08441
    [(_, closing)] = acc.settle(START + 60, prices.get)
    opened = dict(events)["successopenOrder"]
    close = dict(closing)["successcloseOrder"]
    # the same keys as the notes' verbatim successopenOrder / successcloseOrder
    assert set(opened) == set(notes_sample("successopenOrder"))
    assert set(close) == {"profit", "deals"}
    assert set(close["deals"][0]) == set(notes_sample("successcloseOrder")["deals"][0])

    # through the decoder, with frames captured as the broker's clock says minus two hours
    frames = as_frames(events, ts=START + 0.5) + as_frames(closing, ts=START + 60.2)
    dec = Decoder()
    out = [r for f in frames for r in dec.feed(f) if isinstance(r, Event)]
    deals = [e.data for e in out if e.type == "deal"]
    assert deals[0] == {
        "state": "open",
        "id": opened["id"],
        "asset": "EURUSD_otc",
        "direction": "call",
        "amount": 10.0,
        "open_time": START + 0.37,
        "close_time": START + 60,
        "open_price": 1.08452,
        "close_price": None,
        "profit": None,
        "payout_percent": 92.0,
        "is_demo": True,
        "currency": "USD",
        "request_id": "7",  # the page's own number, echoed while the deal is open
    }
    closed = {"state": "closed", "close_price": 1.08441, "profit": -10.0, "request_id": None}
    assert deals[1] == {**deals[0], **closed}
    assert [e.data["balance"] for e in out if e.type == "balance"] == [9990.0, 9990.0]
    assert dec.counters["deal_offset_measured"] == 1
