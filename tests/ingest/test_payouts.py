"""Payout changes: the decoder's asset lists in, a record per asset whose terms changed out."""

from __future__ import annotations

import base64
import json
from typing import Any

from quantumflux.bus.records import Event, Payout, decode, pack
from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.ingest.payouts import PayoutChanges

TRADE = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"


def row(asset: str, payout: Any, active: bool) -> list[Any]:
    """One updateAssets row as the broker sends it (19 fields; payout at 5, active at 14)."""
    return [66, asset, asset, "currency", 5, payout, 60, 30, 3, 1, 0, 1, [], 1750896000, active,
            [{"time": 60}], 0, 5, -1]  # fmt: skip


def assets(ts: float, *rows: list[Any]) -> Event:
    """What the decoder makes of an updateAssets frame carrying these rows."""
    dec = Decoder()
    header = '451-["updateAssets",{"_placeholder":true,"num":0}]'
    body = base64.b64encode(json.dumps(list(rows)).encode()).decode()
    dec.feed(Frame(ts, "recv", "s", TRADE, 1, header))
    [event] = dec.feed(Frame(ts, "recv", "s", TRADE, 2, body))
    assert isinstance(event, Event) and event.type == "assets"
    return event


def test_the_first_list_gives_one_record_per_asset() -> None:
    watch = PayoutChanges()
    got = watch.changes(assets(100.0, row("EURUSD_otc", 92, True), row("GBPUSD", 85, True)))
    assert got == [Payout("EURUSD_otc", 100.0, 92.0, True), Payout("GBPUSD", 100.0, 85.0, True)]


def test_only_changed_assets_are_reported_again() -> None:
    watch = PayoutChanges()
    watch.changes(
        assets(100.0, row("EURUSD_otc", 92, True), row("GBPUSD", 85, True), row("AUDNZD_otc", 80, True))
    )
    assert watch.changes(assets(101.0, row("EURUSD_otc", 92, True), row("GBPUSD", 85, True))) == []
    got = watch.changes(
        assets(102.0, row("EURUSD_otc", 90, True), row("GBPUSD", 85, False), row("AUDNZD_otc", 80, True))
    )
    assert got == [Payout("EURUSD_otc", 102.0, 90.0, True), Payout("GBPUSD", 102.0, 85.0, False)]
    # back to what it was is a change too
    assert watch.changes(assets(103.0, row("GBPUSD", 85, True))) == [Payout("GBPUSD", 103.0, 85.0, True)]


def test_a_payout_shown_for_an_inactive_asset_is_not_open() -> None:
    watch = PayoutChanges()
    [closed] = watch.changes(assets(100.0, row("AEDCNY_otc", 92, False)))
    assert closed == Payout("AEDCNY_otc", 100.0, 92.0, False)
    # no payout at all: not tradable whatever the flag says
    [none] = watch.changes(assets(101.0, row("CHFJPY_otc", None, True)))
    assert none == Payout("CHFJPY_otc", 101.0, 0.0, False)


def test_other_events_and_broken_rows_give_nothing() -> None:
    watch = PayoutChanges()
    assert watch.changes(Event("balance", 1.0, {"balance": 10.0, "is_demo": True})) == []
    assert watch.changes(Event("assets", 1.0, {"assets": "nope"})) == []
    odd = Event(
        "assets", 1.0, {"assets": [{"asset": ""}, "x", {"asset": "EURUSD_otc", "payout": 92, "active": 1}]}
    )
    # `active` is the decoder's bool; anything else is not taken for open
    assert watch.changes(odd) == [Payout("EURUSD_otc", 1.0, 92.0, False)]


def test_records_go_through_the_bus_codec() -> None:
    [record] = PayoutChanges().changes(assets(100.0, row("EURUSD_otc", 92, True)))
    assert decode(pack(record)) == record
