"""REST endpoints, the web app, security defaults, and Redis going away under connected browsers."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.conftest import free_port
from tests.gateway.conftest import ROOT, Bus, make_candle, payload, wait_until

ASSET = "EURUSD_otc"


def test_rest_endpoints_and_clear_4xx(start_gateway, bus, tmp_path):
    for i in range(5):
        bus.candle(make_candle(ASSET, i * 60, 3, closed=True))
    bus.candle(make_candle(ASSET, 300, 1, closed=False))
    web = tmp_path / "dist"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<html>chart</html>")
    (web / "assets" / "app.js").write_text("console.log(1)")
    gw = start_gateway(backtest_url=f"http://127.0.0.1:{free_port()}", gateway_web_dir=str(web))
    get = lambda path, **kw: httpx.get(gw.url + path, timeout=10, **kw)  # noqa: E731

    assert get("/health").json()["redis"] == "connected"
    assets = get("/api/assets").json()
    assert assets["timeframes"] == ["1m"] and [a["asset"] for a in assets["assets"]] == [ASSET]

    r = get("/api/candles", params={"asset": ASSET, "timeframe": "1m", "limit": 3})
    assert r.status_code == 200
    expected = [payload(make_candle(ASSET, t, 3, closed=True)) for t in (120, 180, 240)]
    assert r.json()["candles"] == [*expected, payload(make_candle(ASSET, 300, 1, closed=False))]
    for params, status in [
        ({"asset": ASSET, "timeframe": "whenever"}, 400),
        ({"timeframe": "1m"}, 400),
        ({"asset": "NOPE", "timeframe": "1m"}, 404),
        ({"asset": ASSET, "timeframe": "4h"}, 404),
        ({"asset": ASSET, "timeframe": "1m", "limit": 0}, 422),
    ]:
        r = get("/api/candles", params=params)
        assert r.status_code == status, params
        assert r.json().get("error") or r.json().get("detail")

    # The backtest service is not running here: a clear 503, and bad requests are refused first.
    r = get("/api/datasets")
    assert r.status_code == 503 and "not running" in r.json()["error"]
    post = lambda body, **kw: httpx.post(gw.url + "/api/backtests", timeout=10, **kw)  # noqa: E731
    assert post(None, content=b"{not json").status_code == 400
    r = post(None, json={"strategy": "rsi"})
    assert r.status_code == 422 and "dataset" in r.json()["error"]
    r = post(None, json={"dataset": "../../secrets.csv", "strategy": "rsi"})
    assert r.status_code == 422 and "id" in r.json()["error"]
    assert post(None, json={"dataset": "EURUSD_otc_1M", "strategy": "rsi"}).status_code == 503

    assert "qf_gateway_clients" in get("/metrics").text
    assert get("/").text == "<html>chart</html>"
    assert get("/assets/app.js").text == "console.log(1)"
    assert get("/backtests/42").text == "<html>chart</html>"  # the app's own route
    assert get("/../../etc/passwd").text == "<html>chart</html>"
    assert get("/api/nothing").status_code == 404

    # The API's own schema and its page, not the web app's fallback.
    schema = get("/openapi.json").json()
    assert schema["info"]["title"] == "QuantumFlux gateway"
    assert {"/api/candles", "/api/signals", "/api/backtests", "/health"} <= set(schema["paths"])
    assert "{path}" not in "".join(schema["paths"])  # the web app's files are no API
    docs = get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text and "chart" not in docs.text

    # Browsers on other sites may not use the gateway (default: only its own origin).
    sio_url = "/socket.io/?EIO=4&transport=polling"
    assert get(sio_url, headers={"Origin": "http://evil.example"}).status_code == 400
    assert get(sio_url, headers={"Origin": gw.url}).status_code == 200


def test_web_app_not_built_says_how_to_build_it(start_gateway, tmp_path):
    gw = start_gateway(gateway_web_dir=str(tmp_path / "missing"))
    r = httpx.get(gw.url + "/", timeout=10)
    assert r.status_code == 200 and "not built" in r.text and "npm run build" in r.text


def test_refuses_to_listen_beyond_loopback_without_a_token(test_env):
    # Never actually serves: the check comes before binding.
    proc = subprocess.run(
        [sys.executable, "-m", "quantumflux.gateway", "--host", "0.0.0.0", "--port", str(free_port())],
        env=test_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "QF_API_TOKEN" in proc.stderr


def test_a_bad_setting_is_one_plain_line_and_exit_2(test_env):
    for args, env, why in [
        (["--port", "99999"], {}, "gateway_port"),
        ([], {"QF_GATEWAY_NOPE": "1"}, "QF_GATEWAY_NOPE"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "quantumflux.gateway", *args],
            env=test_env | env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        # The setting is named as the user set it: the option's field or the QF_ variable.
        assert proc.stderr.startswith("gateway: ") and why.lower() in proc.stderr.lower()
        assert "Traceback" not in proc.stderr


def test_token_is_enforced_on_socketio_and_rest(start_gateway, recorders, bus):
    import pytest
    import socketio

    bus.candle(make_candle(ASSET, 0, 1, closed=True))
    gw = start_gateway(api_token="let-me-in-7f3a", gateway_require_token="true")
    assert httpx.get(gw.url + "/health").status_code == 200  # health stays open for probes
    assert httpx.get(gw.url + "/api/assets").status_code == 401
    assert httpx.get(gw.url + "/metrics").status_code == 401
    assert httpx.get(gw.url + "/api/assets", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = httpx.get(gw.url + "/api/assets", headers={"Authorization": "Bearer let-me-in-7f3a"})
    assert ok.status_code == 200
    for auth in (None, {"token": "wrong"}):
        with pytest.raises(socketio.exceptions.ConnectionError):
            recorders(reconnection=False).connect(gw.url, auth=auth)
    rec = recorders().connect(gw.url, auth={"token": "let-me-in-7f3a"})
    assert rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)["ok"] is True


def test_redis_restart_under_a_connected_browser(start_gateway, recorders, private_redis, prefix):
    import redis

    client = redis.Redis.from_url(private_redis.url)
    bus = Bus(client, prefix)
    bus.candle(make_candle(ASSET, 0, 3, closed=True))
    gw = start_gateway(redis_url=private_redis.url)
    rec = recorders().connect(gw.url)
    rec.sio.call("start_stream", {"asset": ASSET, "timeframe": "1m"}, timeout=10)
    rec.wait("history")

    private_redis.stop()
    wait_until(lambda: rec.named("connection_status")[-1]["redis"] == "disconnected", 15, "redis down")
    assert httpx.get(gw.url + "/health", timeout=10).status_code == 503
    assert rec.sio.connected

    private_redis.start()  # same port, same data (append-only file)
    wait_until(lambda: rec.named("connection_status")[-1]["redis"] == "connected", 20, "redis back")
    wait_until(lambda: httpx.get(gw.url + "/health", timeout=10).status_code == 200, 10, "healthy again")
    client = redis.Redis.from_url(private_redis.url)
    bus = Bus(client, prefix)
    bus.candle(make_candle(ASSET, 60, 1, closed=False))
    want = payload(make_candle(ASSET, 60, 1, closed=False))
    wait_until(lambda: want in rec.named("candle_update"), 15, "live updates after the restart")
    assert rec.sio.connected

    def gateway_states():
        from quantumflux.bus.records import decode_fields

        events = [decode_fields(f) for _, f in client.xrange(bus.keys.events())]
        return [
            e.data["state"] for e in events if e.type == "service_status" and e.data["service"] == "gateway"
        ]

    wait_until(lambda: "recovered" in gateway_states(), 10, "the gateway to report it recovered")
    assert gateway_states()[0] == "running"
    client.close()


def test_sigterm_stops_the_gateway_cleanly_and_removes_its_heartbeat(start_gateway, rclient, prefix):
    gw = start_gateway()
    assert rclient.keys(f"{prefix}:health:gateway:*")
    assert gw.proc is not None
    gw.proc.terminate()
    assert gw.proc.wait(timeout=15) == 0
    assert rclient.keys(f"{prefix}:health:gateway:*") == []
