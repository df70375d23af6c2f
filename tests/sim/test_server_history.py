"""Paged history over the simulator's real socket: framing, pacing, unknown assets, live equality."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from quantumflux.ingest.frames import Frame
from tests.sim.test_server import Sim, capture, handshake, start_sim, until

OFF = 7200


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Sim]:
    s = start_sim(tmp_path, "--assets", "2", "--rate", "4", "--seed", "12", "--history-gap", "0.3")
    yield s
    if s.proc.poll() is None:
        s.proc.kill()
        s.proc.wait()


def answers(frames: list[Frame]) -> list[tuple[str, dict[str, Any]]]:
    """History answers received: each ``451-`` header of a history event with its binary body."""
    out = []
    for head, body in zip(list(frames), list(frames)[1:], strict=False):
        if head.opcode == 1 and head.payload.startswith('451-["loadHistoryPeriod'):
            assert body.opcode == 2  # the body comes right after its header
            name = json.loads(head.payload[4:])[0]
            out.append((name, json.loads(base64.b64decode(body.payload))))
    return out


def request(event: str, **body: Any) -> str:
    return "42" + json.dumps([event, body])


def test_history_answers_framing_pacing_and_unknown_assets(sim: Sim) -> None:
    frames: list[Frame] = []

    async def session() -> None:
        async with connect(sim.ws_url, max_size=None) as ws:
            await handshake(ws)
            reader = asyncio.create_task(capture(ws, frames))
            end = int(time.time() + OFF) - 3600
            page = {"asset": "EURUSD_otc", "time": end, "offset": 9000, "period": 60}
            await ws.send(request("loadHistoryPeriod", index=1, **page))
            await ws.send(request("loadHistoryPeriod", index=2, **page))  # too soon: ignored
            await asyncio.sleep(0.4)
            await ws.send(request("loadHistoryPeriodFast", index=3, **page))
            await asyncio.sleep(0.4)
            await ws.send(request("loadHistoryPeriod", index=4, **(page | {"asset": "NOPE_otc"})))
            await asyncio.sleep(0.4)
            await ws.send(request("loadHistoryPeriodFast", index=5, **(page | {"offset": 30, "period": 5})))
            # answers come in order, so once the last is here the ignored ones never will
            await until(lambda: any(b["index"] == 5 for _n, b in answers(frames)), "the last answer")
            await ws.close()
            await reader

    asyncio.run(session())
    got = answers(frames)
    assert [(name, body["index"]) for name, body in got] == [
        ("loadHistoryPeriod", 1),
        ("loadHistoryPeriodFast", 3),
        ("loadHistoryPeriodFast", 5),
    ]
    first, fast, ticks = (body for _n, body in got)
    assert len(first["data"]) == 150 and first["data"] == fast["data"]
    assert ("period" in first) != ("period" in fast)  # sometimes absent, as in real captures
    assert set(first["data"][0]) == {"symbol_id", "time", "open", "close", "high", "low", "volume"}
    assert first["data"][-1]["time"] == first["data"][0]["time"] + 149 * 60
    assert ticks["data"] and set(ticks["data"][0]) == {"asset", "time", "price"}


def test_candles_the_stream_sent_live_equal_the_page_of_them(sim: Sim) -> None:
    frames: list[Frame] = []

    async def session() -> dict[str, Any]:
        async with connect(sim.ws_url, max_size=None) as ws:
            await handshake(ws)
            reader = asyncio.create_task(capture(ws, frames))
            # at least three whole 2-second candles streamed while we listen
            await until(lambda: len(sim.truth_ticks()) > 2 and _span(sim) > 10, "10 s of live ticks")
            await ws.send(request("loadHistoryPeriod", asset="GBPUSD_otc", index=9,
                                  time=int(time.time() + OFF), offset=60, period=2))  # fmt: skip
            await until(lambda: answers(frames), "the answer")
            await ws.close()
            await reader
            return answers(frames)[0][1]

    body = asyncio.run(session())
    live = [(t, p) for a, t, p in sim.truth_ticks() if a == "GBPUSD_otc"]
    first_whole = (int(live[0][0] + OFF) // 2 + 1) * 2  # the first candle the stream sent from its start
    built: dict[int, list[float]] = {}
    for t, p in live:
        b = int((t + OFF) // 2 * 2)
        built.setdefault(b, []).append(p)
    compared = 0
    for c in body["data"]:
        if c["time"] < first_whole:
            continue
        prices = built[c["time"]]
        assert (c["open"], c["close"], c["high"], c["low"], c["volume"]) == (
            prices[0], prices[-1], max(prices), min(prices), len(prices),
        )  # fmt: skip
        compared += 1
    assert compared >= 3


def _span(sim: Sim) -> float:
    ticks = sim.truth_ticks()
    return ticks[-1][1] - ticks[0][1] if ticks else 0.0
