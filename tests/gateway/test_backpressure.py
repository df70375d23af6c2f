"""A browser that cannot keep up is coalesced, then let go; the others get every closed candle."""

from __future__ import annotations

import json
import socket

import websocket

from tests.gateway.conftest import AsyncRecorder, make_candle, payload, wait_until

ASSET = "EURUSD_otc"


def raw_client(url: str) -> websocket.WebSocket:
    """A Socket.IO client by hand, with a tiny receive buffer, that will stop reading."""
    ws = websocket.create_connection(
        url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
        timeout=10,
    )
    assert ws.recv().startswith("0")  # Engine.IO open
    ws.send("40")  # join the default namespace
    assert ws.recv().startswith("40")
    ws.send("42" + json.dumps(["start_stream", {"asset": ASSET, "timeframe": "1m"}]))
    return ws


def closed_count(client: AsyncRecorder) -> int:
    """How many closed candles this browser has received live."""
    return sum(1 for u in client.named("candle_update") if u["closed"])


def test_slow_client_is_coalesced_then_let_go_while_fast_client_gets_every_closed_candle(
    start_gateway, bus, request
):
    bus.candle(make_candle(ASSET, 0, 1, closed=True))
    gw = start_gateway(gateway_queue_size="2000", gateway_slow_seconds="1", gateway_send_backlog="16")
    fast = AsyncRecorder().connect(gw.url)
    request.addfinalizer(fast.close)
    fast.call("start_stream", {"asset": ASSET, "timeframe": "1m"})
    slow = raw_client(gw.url)
    wait_until(lambda: gw.metric("qf_gateway_clients") == 2, 5, "two clients")

    sent = [make_candle(ASSET, 0, 1, closed=True)]
    t = 60
    # The slow browser's kernel buffers take a few MB before its messages wait in the gateway.
    for _ in range(200):  # until the slow one is let go (bounded, so a bug cannot hang the test)
        batch = []
        for _ in range(400):
            batch += [make_candle(ASSET, t, n, closed=n == 3) for n in range(1, 4)]
            t += 60
        bus.candles(batch)
        sent += batch
        # Paced by the fast browser, kept well under the gateway's limits (2000 waiting, or 1000
        # for a second): on a busy machine only the browser that stopped reading may be let go.
        # Not slower than that: a browser that never reads is also dropped when it misses the
        # Engine.IO pings (after 30 s), and that must not come first.
        closed_sent = sum(1 for c in sent if c.closed) - 1  # the first one came with the history
        wait_until(lambda n=closed_sent: closed_count(fast) >= n - 600, 30, "the fast browser to keep up")
        if gw.metric("qf_gateway_slow_disconnects_total") >= 1:
            break
    assert gw.metric("qf_gateway_slow_disconnects_total") == 1
    assert gw.metric("qf_gateway_messages_coalesced_total") > 0
    wait_until(lambda: gw.metric("qf_gateway_clients") == 1, 5, "the slow client gone")

    # The fast client saw every closed candle, once, in order, and the last state of each.
    last = sent[-1]
    wait_until(lambda: any(u == payload(last) for u in fast.named("candle_update")[-5:]), 20, "last update")
    closed = [u["time"] for u in fast.named("candle_update") if u["closed"]]
    history = fast.named("history")[0]["candles"]
    assert [c["time"] for c in history if c["closed"]] + closed == [c.time for c in sent if c.closed]
    assert fast.sio.connected

    # The slow client, reading at last, gets what was in flight: far fewer forming updates.
    received = []
    slow.settimeout(2)
    try:
        while True:
            msg = slow.recv()
            if not msg:
                break
            received.append(msg)
    except (websocket.WebSocketException, ConnectionError, OSError):
        pass
    forming_got = sum(1 for m in received if '"closed":false' in m)
    forming_sent = sum(1 for c in sent if not c.closed)
    assert forming_got < forming_sent
    slow.close()
