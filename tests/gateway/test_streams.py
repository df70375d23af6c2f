"""Live streams through a running gateway, with real Socket.IO clients and the real Redis."""

from __future__ import annotations

import threading
import time

from tests.gateway.conftest import make_candle, payload, wait_until

ASSET = "EURUSD_otc"


def seed(bus, asset=ASSET, closed=10, tf=60):
    """Closed candles 0..closed-1 and the first update of the next one; returns what was sent."""
    sent = []
    for i in range(closed):
        for n in (1, 2, 3):
            c = make_candle(asset, i * tf, n, closed=n == 3, tf=tf)
            sent.append(c)
    bus.candles(sent)
    c = make_candle(asset, closed * tf, 1, closed=False, tf=tf)
    bus.candle(c)
    return [*sent, c]


def view_of(rec, asset=ASSET, timeframe="1m"):
    """The chart a browser builds: history replaces everything, updates replace or append by time."""
    chart: dict[int, dict] = {}
    closed_order: list[int] = []
    seen_history = False
    for event, data in list(rec.events):
        if data is None or not isinstance(data, dict) or data.get("asset") != asset:
            continue
        if event == "history" and data["timeframe"] == timeframe:
            seen_history = True
            chart = {c["time"]: c for c in data["candles"]}
            closed_order = [c["time"] for c in data["candles"] if c["closed"]]
        elif event == "candle_update" and data["timeframe"] == timeframe:
            assert seen_history, "a candle_update came before the history"
            assert not chart or data["time"] >= max(chart), "an older candle came after a newer one"
            assert data["time"] not in closed_order, f"candle {data['time']} was sent closed twice"
            chart[data["time"]] = data
            if data["closed"]:
                closed_order.append(data["time"])
    return chart, closed_order


def test_history_then_live_updates_exactly_what_was_published_in_order(start_gateway, recorders, bus):
    sent = seed(bus)
    gw = start_gateway()
    rec = recorders().connect(gw.url)
    stop = threading.Event()
    live: list = []

    def publish():  # updates keep arriving while the browser joins: the seam must hold
        t = 10 * 60
        n = 2
        while not stop.is_set() and t < 40 * 60:
            c = make_candle(ASSET, t, n, closed=n == 4)
            bus.candle(c)
            live.append(c)
            t, n = (t + 60, 1) if n == 4 else (t, n + 1)
            time.sleep(0.002)

    th = threading.Thread(target=publish)
    th.start()
    wait_until(lambda: len(live) >= 5, 10, "updates to be flowing")
    ack = rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)
    th.join()
    assert ack == {"ok": True, "asset": ASSET, "timeframe": "1m"}
    names = [e for e, _ in rec.events]
    assert names.index("stream_started") < names.index("history")
    all_sent = sent + live
    last = all_sent[-1]
    wait_until(lambda: view_of(rec)[0].get(last.time) == payload(last), 10, "the last update")
    chart, closed_order = view_of(rec)
    expected_closed = [c.time for c in all_sent if c.closed]
    assert closed_order == expected_closed
    # Every candle on the chart is exactly the last state published for its time.
    final = {c.time: payload(c) for c in all_sent}
    assert chart == final


def test_change_asset_stop_and_unknown_requests(start_gateway, recorders, bus):
    seed(bus, ASSET, closed=3)
    seed(bus, "GBPUSD_otc", closed=4)
    gw = start_gateway()
    rec = recorders().connect(gw.url)
    rec.sio.call("start_stream", {"asset": ASSET, "timeframe": 60}, timeout=10)
    ack = rec.sio.call("change_asset", {"asset": "GBPUSD_otc"}, timeout=10)
    assert ack["ok"] is True
    assert rec.wait("asset_changed")[0] == {"asset": "GBPUSD_otc", "timeframes": ["1m"]}
    hist = wait_until(lambda: [h for h in rec.named("history") if h["asset"] == "GBPUSD_otc"], 5, "history")
    assert [c["time"] for c in hist[0]["candles"]] == [0, 60, 120, 180, 240]
    # Updates of the old asset no longer come; the new one's do.
    bus.candle(make_candle(ASSET, 180, 2, closed=False))
    # Read after the old asset's update by the same reader: once it is here, the other would be too.
    bus.candle(make_candle("GBPUSD_otc", 240, 2, closed=False))
    got = wait_until(lambda: rec.named("candle_update"), 5, "an update")
    assert [u["asset"] for u in rec.named("candle_update")] == ["GBPUSD_otc"]
    assert got[0] == payload(make_candle("GBPUSD_otc", 240, 2, closed=False))

    for req, code in [
        ({"asset": "NOPE_otc", "timeframe": "1m"}, "unknown_asset"),
        ({"asset": ASSET, "timeframe": "4h"}, "unknown_timeframe"),
        ({"asset": ASSET, "timeframe": "often"}, "bad_timeframe"),
        ({"timeframe": "1m"}, "bad_request"),
    ]:
        before = len(rec.named("stream_error"))
        ack = rec.sio.call("start_stream", req, timeout=10)
        assert ack["ok"] is False and ack["code"] == code
        err = rec.wait("stream_error", before + 1)[-1]
        assert err["code"] == code and err["message"]

    ack = rec.sio.call("stop_stream", {}, timeout=10)
    assert ack["streams"] == [{"asset": "GBPUSD_otc", "timeframe": "1m"}]
    rec.wait("stream_stopped")
    n = len(rec.named("candle_update"))
    bus.candle(make_candle("GBPUSD_otc", 240, 3, closed=False))
    # A marker on the same candle stream, read after that update: once the marker is here, the
    # stopped stream's update would have come before it.
    assert rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)["ok"] is True
    marker = make_candle(ASSET, 180, 3, closed=False)
    bus.candle(marker)
    wait_until(lambda: payload(marker) in rec.named("candle_update"), 5, "the marker")
    assert [u["asset"] for u in rec.named("candle_update")[n:]] == [ASSET]


def test_reconnect_restores_the_stream(start_gateway, recorders, bus):
    seed(bus, closed=5)
    gw = start_gateway()
    streams: list[dict] = []
    rec = recorders(reconnection_delay=0.2, reconnection_delay_max=0.5)
    # The browser remembers its streams and sends them each time it (re)connects.
    rec.connect(gw.url, auth=lambda: {"resume": {"streams": list(streams)}})
    ack = rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)
    streams.append({"asset": ack["asset"], "timeframe": ack["timeframe"]})
    rec.wait("history")

    port = gw.port
    gw.stop()  # the gateway goes away (a restart, a deploy)
    bus.candle(make_candle(ASSET, 300, 2, closed=True))  # happens while it is away
    start_gateway(port=port)
    back = rec.wait("backend_reconnected", timeout=20)[0]
    assert back["streams"] == [{"asset": ASSET, "timeframe": "1m"}]
    assert back["status"]["redis"] == "connected"
    wait_until(lambda: len(rec.named("history")) >= 2, 10, "history again")
    chart, _ = view_of(rec)
    assert chart[300] == payload(make_candle(ASSET, 300, 2, closed=True))
    bus.candle(make_candle(ASSET, 360, 1, closed=False))
    wait_until(lambda: view_of(rec)[0].get(360), 10, "live updates after the reconnect")


def test_status_platform_events_and_follow_platform(start_gateway, recorders, bus):
    seed(bus, closed=2)
    seed(bus, "AUDCAD_otc", closed=2, tf=300)
    bus.r.set(
        bus.keys.health("candles", "c1"),
        __import__("msgpack").packb(
            {"service": "candles", "instance": "c1", "ts": time.time(), "timeframes": [60, 300]}
        ),
        px=60_000,
    )
    gw = start_gateway()
    rec = recorders().connect(gw.url)
    status = rec.wait("connection_status")[0]
    assert status["redis"] == "connected" and status["gateway"] == "running"
    assert status["services"]["candles"]["alive"] is True
    assert rec.sio.call("follow_platform", {"enabled": True}, timeout=10) == {"ok": True, "enabled": True}

    bus.event("assets", assets=[{"asset": "AUDCAD_otc", "label": "AUD/CAD OTC", "payout": 92, "otc": True}])
    got = rec.wait("assets")[-1]
    assert {"asset": "AUDCAD_otc", "label": "AUD/CAD OTC", "payout": 92, "otc": True} in got["assets"]

    bus.event("platform_state", asset="AUDCAD_otc", period=300)
    assert rec.wait("platform_state")[-1] == {"asset": "AUDCAD_otc", "period": 300}
    assert rec.wait("asset_changed")[-1] == {"asset": "AUDCAD_otc", "timeframes": ["5m"]}
    wait_until(lambda: [h for h in rec.named("history") if h["asset"] == "AUDCAD_otc"], 5, "followed history")

    bus.event("chrome_status", state="disconnected", reason="tab closed")
    wait_until(
        lambda: rec.named("connection_status")[-1]["chrome"]["state"] == "disconnected", 5, "chrome down"
    )
    assert rec.named("connection_status")[-1]["services"]["candles"]["alive"] is True
    bus.event("chrome_status", state="reconnected", reason="tab back")
    assert rec.wait("chrome_reconnected")[0]["reason"] == "tab back"

    bus.r.delete(bus.keys.health("candles", "c1"))
    wait_until(
        lambda: rec.named("connection_status")[-1]["services"]["candles"]["alive"] is False, 5, "candles gone"
    )
