"""What a gateway tells browsers about the data's quality: protocol changes, incomplete candles."""

from __future__ import annotations

from dataclasses import replace

from quantumflux.ingest.decode import protocol_report
from tests.gateway.conftest import make_candle, payload, wait_until

ASSET = "EURUSD_otc"


def report(event: str) -> dict:
    data = protocol_report(
        [{"key": f"recv {event} unknown_event", "event": event, "change": f"unknown {event}"}]
    )
    assert data is not None
    return data


def test_the_latest_protocol_report_reaches_browsers_connected_and_joining(start_gateway, recorders, bus):
    bus.event("report", **report("olderNews"))
    bus.event("report", **report("firstNews"))
    bus.event("chrome_status", state="connected", reason="")
    gw = start_gateway()
    # A browser that joins later learns the latest report at once (the gateway read it at start).
    early = recorders().connect(gw.url)
    [greeted] = early.wait("protocol_report")
    assert "firstNews" in greeted["summary"] and "qf record" in greeted["suggestion"]
    assert greeted["findings"][0]["event"] == "firstNews"

    bus.event("report", report="something_else", summary="not about the protocol")
    bus.event("report", **report("secondNews"))
    wait_until(lambda: len(early.named("protocol_report")) == 2, 10, "the second report")
    assert "secondNews" in early.named("protocol_report")[-1]["summary"]  # the other report is not relayed
    late = recorders().connect(gw.url)
    assert "secondNews" in late.wait("protocol_report")[0]["summary"]
    assert gw.metric("qf_gateway_malformed_entries") == 0  # a report of another kind is not bad data


def test_candles_say_whether_they_are_complete_and_their_broker_volume(start_gateway, recorders, bus):
    whole = make_candle(ASSET, 0, 3, closed=True)
    gap = replace(make_candle(ASSET, 60, 3, closed=True), complete=False, volume=41)
    bus.candles([whole, gap])
    gw = start_gateway()
    rec = recorders().connect(gw.url)
    rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)
    [history] = [h for h in rec.wait("history") if h["asset"] == ASSET]
    assert history["candles"] == [payload(whole), payload(gap)]
    assert history["candles"][0]["complete"] is True and "volume" not in history["candles"][0]
    assert history["candles"][1]["complete"] is False and history["candles"][1]["volume"] == 41

    forming = replace(make_candle(ASSET, 120, 1, closed=False), complete=False)
    bus.candle(forming)
    wait_until(lambda: payload(forming) in rec.named("candle_update"), 10, "the incomplete update")
    assert payload(forming)["complete"] is False
