"""Orders placed on the simulated broker over a real WebSocket, settled with its own tick prices."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from quantumflux.bus.records import Event, Tick, pack
from quantumflux.ingest.decoder import Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.sim.server import deals_truth_path
from tests.sim.test_server import Sim, decoded, handshake, start_sim, until, ws_url_of


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path, "--assets", "2", "--rate", "4", "--seed", "5", "--ping-interval", "5")
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


ORDERS = [
    # (action, asset, amount, expiry seconds)
    ("call", "EURUSD_otc", 10, 6),
    ("put", "GBPUSD_otc", 5, 5),
    ("put", "EURUSD_otc", 7, 7),
    ("call", "GBPUSD_otc", 0.5, 6),  # below the minimum: refused
    ("call", "NOPE_otc", 10, 6),  # no such asset: refused
    ("call", "EURUSD_otc", 10, 4),  # shorter than the broker's 5 s: refused
]


def last_price(truth: list[tuple[str, float, float]], asset: str, at: float) -> float:
    """The price the market quoted for ``asset`` last at or before ``at``, from the truth file."""
    return [p for a, t, p in truth if a == asset and t <= at][-1]


def test_orders_are_answered_and_settled_like_the_broker(sim: Sim) -> None:
    frames: list[Frame] = []

    def every_deal_settled() -> bool:
        events = [r for r in decoded(frames) if isinstance(r, Event)]
        closed = [e for e in events if e.type == "deal" and e.data["state"] == "closed"]
        open_lists = [e.data["deals"] for e in events if e.type == "deals" and e.data["state"] == "open"]
        return len(closed) == 3 and bool(open_lists) and open_lists[-1] == []

    async def session() -> None:
        async with connect(sim.ws_url, max_size=None) as ws:
            await handshake(ws)
            url = ws_url_of(ws)

            async def send(text: str) -> None:
                frames.append(Frame(time.time(), "sent", "s1", url, 1, text))
                await ws.send(text)

            async def read(ws: ClientConnection) -> None:
                try:
                    async for msg in ws:
                        now = time.time()
                        if isinstance(msg, bytes):
                            frames.append(Frame(now, "recv", "s1", url, 2, base64.b64encode(msg).decode()))
                        else:
                            frames.append(Frame(now, "recv", "s1", url, 1, msg))
                            if msg == "2":
                                await ws.send("3")
                except ConnectionClosed:
                    pass

            reader = asyncio.create_task(read(ws))
            await until(
                lambda: (
                    {r.asset for r in decoded(frames) if isinstance(r, Tick)} == {"EURUSD_otc", "GBPUSD_otc"}
                ),
                "a quote of both assets",
            )
            for i, (action, asset, amount, expiry) in enumerate(ORDERS):
                body = (
                    f'{{"asset":"{asset}","amount":{amount},"action":"{action}","isDemo":1,'
                    f'"requestId":{100 + i},"optionType":100,"time":{expiry}}}'
                )
                await send(f'42["openOrder",{body}]')
                await asyncio.sleep(0.05)  # orders a moment apart, as a trader clicks
            await until(every_deal_settled, "every deal to expire and be settled")
            await asyncio.to_thread(sim.stop)
            await asyncio.wait_for(reader, 10)

    asyncio.run(session())
    assert sim.proc.returncode == 0

    dec = Decoder()
    out = [r for f in frames for r in dec.feed(f)]
    events = [r for r in out if isinstance(r, Event)]
    truth = sim.truth_ticks()
    [assets] = [e for e in events if e.type == "assets"]
    payout = {a["asset"]: a["payout"] for a in assets.data["assets"]}

    opened = [e.data for e in events if e.type == "deal" and e.data["state"] == "open"]
    closed = {e.data["id"]: e.data for e in events if e.type == "deal" and e.data["state"] == "closed"}
    failed = [e.data for e in events if e.type == "deal" and e.data["state"] == "failed"]
    assert [(d["direction"], d["asset"], d["amount"]) for d in opened] == [
        (a, s, float(m)) for a, s, m, _ in ORDERS[:3]
    ]
    assert [(d["asset"], d["direction"], d["amount"]) for d in failed] == [
        ("GBPUSD_otc", "call", 0.5),
        ("NOPE_otc", "call", 10.0),
        ("EURUSD_otc", "call", 10.0),
    ]
    assert [d["error"] for d in failed] == [
        "The minimum amount is 1.",
        "This asset is not available.",
        "expiration",
    ]
    assert set(closed) == {d["id"] for d in opened}

    balance = 10000.0
    for d, (_, _, amount, expiry) in zip(opened, ORDERS, strict=False):
        c = closed[d["id"]]
        # the deal clock was measured (+7200 s in the simulator) and published as UTC
        assert abs(d["open_time"] - time.time()) < 60
        assert c["close_time"] == int(d["open_time"]) + expiry
        # open at the last price quoted before the order, close at the last one before expiry
        assert d["open_price"] == last_price(truth, d["asset"], d["open_time"])
        assert c["close_price"] == last_price(truth, d["asset"], c["close_time"])
        up = c["close_price"] > d["open_price"]
        if c["close_price"] == d["open_price"]:
            profit = 0.0
        elif up == (d["direction"] == "call"):
            profit = round(amount * payout[d["asset"]] / 100, 2)
        else:
            profit = -float(amount)
        assert c["profit"] == profit
        assert c["payout_percent"] == payout[d["asset"]]
        balance += profit
    balances = [e.data["balance"] for e in events if e.type == "balance"]
    assert balances[0] == 10000.0
    assert balances[-1] == pytest.approx(balance, abs=1e-6)
    # every settled deal is in the simulator's own truth file, with the result the page was told
    rows = [json.loads(x) for x in deals_truth_path(sim.truth).read_text().splitlines()]
    assert {r["id"]: r["profit"] for r in rows} == {i: c["profit"] for i, c in closed.items()}
    assert sorted(r["request_id"] for r in rows) == [100, 101, 102]
    assert all(r["is_demo"] == 1 for r in rows)

    closed_lists = [e.data for e in events if e.type == "deals" and e.data["state"] == "closed"]
    assert [d["id"] for d in closed_lists[-1]["deals"]] == sorted(
        closed, key=lambda i: (closed[i]["close_time"], closed[i]["open_time"]), reverse=True
    )
    open_lists = [e.data for e in events if e.type == "deals" and e.data["state"] == "open"]
    assert open_lists[-1]["deals"] == []
    assert dec.counters["deal_offset_measured"] == 1
    assert not [k for k in dec.counters if k.startswith(("malformed", "unknown"))]
    # the broker's uid is on the wire, never in what is published
    assert any(b'"uid"' in base64.b64decode(f.payload) for f in frames if f.opcode == 2)
    assert all(b"uid" not in pack(e) for e in events)


def test_the_page_has_the_trade_buttons(sim: Sim) -> None:
    with urllib.request.urlopen(sim.url, timeout=5) as resp:
        html = resp.read().decode()
    for testid in ("sim-call", "sim-put", "sim-amount", "sim-deal"):
        assert f'data-testid="{testid}"' in html
    with urllib.request.urlopen(sim.url + "app.js", timeout=5) as resp:
        js = resp.read().decode()
    assert '"openOrder"' in js and "successcloseOrder" in js
