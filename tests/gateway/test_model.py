"""The gateway's read model, its token checks and the trade payloads: values in, values out."""

from __future__ import annotations

import time

import pytest

from quantumflux.bus.records import Candle, Event, PaperContract, RecordError, Signal, from_map
from quantumflux.gateway.auth import bearer_ok, guarded, socket_auth_ok
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.model import ReadModel, produced_timeframes, sort_keys
from quantumflux.gateway.rooms import Stream
from quantumflux.gateway.trades import paper_payload, signal_payload
from tests.gateway.entries import paper_map, signal_map

ASSET = "EURUSD_otc"


def test_discovery_sorts_keys_and_reads_the_candle_services_timeframes():
    names = ["p:health:candles:a", "p:candles:60", "p:candles:bars", "p:series:EUR:USD_otc:300", "p:events"]
    health, streams, assets = sort_keys("p", names)
    assert (health, streams, assets) == (["p:health:candles:a"], {60}, {"EUR:USD_otc"})
    beats = [
        {"service": "candles", "timeframes": [5, 60, True, -1, "1m"]},
        {"service": "ingest", "timeframes": [900]},
    ]
    assert produced_timeframes(beats) == {5, 60}
    model = ReadModel()
    model.learn_bus({300}, {"GBPUSD_otc"}, beats)
    assert model.catalog.timeframes == [5, 60, 300]
    assert model.catalog.asset_names() == ["GBPUSD_otc"]


def test_status_is_told_again_only_when_its_shape_changes():
    model = ReadModel()
    assert model.set_redis(True) and not model.set_redis(True)
    beat = {"service": "candles", "instance": "a", "ts": 1.0}
    first = model.refresh_status([beat])
    assert first is not None and first["redis"] == "connected"
    assert model.refresh_status([{**beat, "ts": 2.0}]) is None  # only the time moved
    gone = model.refresh_status([])
    assert gone is not None and gone["services"]["candles"]["alive"] is False
    assert model.set_redis(False) and model.counters["redis_errors"] == 1


def test_events_fill_the_model_and_unusable_account_events_are_refused():
    model = ReadModel()
    candle = Candle(ASSET, 60, 120, 1.0, 1.1, 0.9, 1.05, 4, False)
    model.take_candle(candle, f"{int(time.time() * 1000) - 2000}-0")
    assert ASSET in model.catalog.seen and model.book.snapshot(Stream(ASSET, 60)).forming == candle
    assert 1.5 < model.lag < 30
    assert model.take_event(Event("platform_state", 1.0, {"asset": ASSET, "period": 60, "extra": 1}))
    assert model.platform_state == {"asset": ASSET, "period": 60}
    assert model.take_event(Event("chrome_status", 7.0, {"state": "connected"}))
    assert model.chrome == {"state": "connected", "ts": 7.0}
    assert not model.take_event(Event("balance", 1.0, {"balance": "lots"}))
    assert model.take_event(Event("balance", 1.0, {"balance": 12.5, "is_demo": True}))
    assert model.account.snapshot()["balance"] == 12.5


def test_signals_are_kept_per_stream_and_shaped_for_the_browser():
    model = ReadModel()
    for t in range(250):
        signal = from_map(signal_map(ASSET, 60, t * 60, 1 if t % 2 else -1))
        assert isinstance(signal, Signal)
        stream, payload = model.take_signal(signal)
    assert stream == Stream(ASSET, 60)
    recent = model.recent_signals(stream)
    assert len(recent) == 200 and recent[-1] == payload and recent[0]["time"] == 50 * 60
    assert payload["timeframe"] == "1m" and payload["direction"] == "call"
    assert set(payload) == {
        "id",
        "asset",
        "timeframe",
        "direction",
        "time",
        "confidence",
        "strategy",
        "params",
        "run",
        "price",
        "contract",
    }
    assert model.recent_signals(Stream(ASSET, 300)) == []
    with pytest.raises(RecordError):
        from_map(signal_map(ASSET, 60, 0, 0))  # neither call nor put


def test_paper_payloads_carry_what_their_kind_has():
    opened = from_map(paper_map("open", 60))
    settled = from_map(paper_map("settle", 60, expiry_price=1.2, outcome=-1, pnl=-10.0))
    voided = from_map(paper_map("void", 120, direction=-1, reason="gap"))
    assert all(isinstance(p, PaperContract) for p in (opened, settled, voided))
    o, s, v = (paper_payload(p) for p in (opened, settled, voided))  # type: ignore[arg-type]
    assert (o["kind"], o["timeframe"], o["direction"]) == ("open", "1m", "call")
    assert "outcome" not in o and "reason" not in o
    assert (s["expiry_price"], s["outcome"], s["pnl"]) == (1.2, -1, -10.0)
    assert (v["direction"], v["reason"]) == ("put", "gap") and "pnl" not in v
    assert signal_payload(from_map(signal_map(ASSET, 300, 0, -1)))["timeframe"] == "5m"  # type: ignore[arg-type]


def test_the_token_guards_the_api_and_sockets_only_when_needed():
    open_gw = GatewaySettings()
    assert bearer_ok(open_gw, "") and socket_auth_ok(open_gw, None)
    locked = GatewaySettings(gateway_require_token=True, api_token="s3cret")
    assert bearer_ok(locked, "Bearer s3cret") and bearer_ok(locked, "bearer  s3cret ")
    for header in ("", "Bearer wrong", "Basic s3cret", "s3cret"):
        assert not bearer_ok(locked, header), header
    assert socket_auth_ok(locked, {"token": "s3cret"})
    for auth in (None, {}, {"token": "wrong"}, {"token": 5}, "s3cret"):
        assert not socket_auth_ok(locked, auth), auth
    assert not bearer_ok(GatewaySettings(gateway_require_token=True), "Bearer ")  # no token set
    assert guarded("/api/assets") and guarded("/metrics")
    assert not guarded("/health") and not guarded("/") and not guarded("/openapi.json")


def test_the_model_keeps_the_latest_protocol_report_and_ignores_other_reports():
    from quantumflux.ingest.decode import protocol_report

    model = ReadModel()
    assert model.protocol is None
    first = protocol_report([{"key": "k1", "event": "newsA", "change": "unknown event 'newsA'"}])
    assert first is not None
    assert model.take_event(Event("report", 10.0, first))
    assert model.protocol == {
        "summary": "The broker's protocol changed: unknown event 'newsA'",
        "suggestion": first["suggestion"],
        "findings": first["findings"],
        "ts": 10.0,
    }
    # A report of another kind is no protocol alarm, and does not clear the one shown.
    assert model.take_event(Event("report", 11.0, {"report": "disk", "summary": "full"}))
    assert model.protocol["ts"] == 10.0
    second = protocol_report([{"key": "k2", "event": "newsB", "change": "unknown event 'newsB'"}])
    assert second is not None
    model.take_event(Event("report", 12.0, {**second, "findings": "not a list"}))
    assert model.protocol["ts"] == 12.0 and model.protocol["findings"] == []
