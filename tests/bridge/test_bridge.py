"""The page bridge on a real headless Chromium showing the simulated broker, with ingest capturing.

The answers are read where a backfill reads them: decoded by the real ingest worker into Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from quantumflux.bridge import BridgeSettings, NoBrokerPage, NoChrome, NotAllowed, PageBridge
from quantumflux.bus.records import HistoryBatch
from quantumflux.ingest.chrome import Chromium, free_port
from quantumflux.sim.feed import SimFeed
from tests.ingest.stack import Bus, IngestProcess, close_pages, page_call, wait_until
from tests.sim.test_server import Sim, start_sim

pytestmark = pytest.mark.browser

OFF = 7200
SEED, ASSETS, RATE = 21, 2, 2.0
ASSET = "GBPUSD_otc"


@dataclass
class Stack:
    chrome: str
    sim: Sim
    start: float
    bus: Bus

    def js(self, expression: str) -> Any:
        """Evaluate in the broker page, as a test looking at the page's own state."""
        res = page_call(
            self.chrome, self.sim.url, "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        return res["result"].get("value")

    def batches(self) -> list[HistoryBatch]:
        return [r for p in range(4) for r in self.bus.records(p) if isinstance(r, HistoryBatch)]

    def batch_ending(self, newest: float) -> HistoryBatch | None:
        """The decoded answer whose newest candle is at ``newest`` (UTC), once ingest has it."""
        return next((b for b in self.batches() if b.candles and b.candles[-1][0] == newest), None)

    def settings(self, **kw: Any) -> BridgeSettings:
        return BridgeSettings(chrome_url=self.chrome, **kw)


@pytest.fixture
def stack(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> Iterator[Stack]:
    start = round(time.time(), 3)
    sim = start_sim(
        tmp_path, "--seed", str(SEED), "--assets", str(ASSETS), "--rate", str(RATE), "--start", repr(start)
    )
    # Ingest opens the broker page itself, so it sees the page's socket from its first frame.
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.url)
    bus = Bus(redis_url, prefix)
    s = Stack(chromium.http_url, sim, start, bus)
    try:
        wait_until(lambda: bus.tick_count() >= 4, what="live ticks in Redis")
        wait_until(
            lambda: s.js("document.getElementById('status').textContent") == "connected", what="the page"
        )
        yield s
    finally:
        code = ingest.stop()
        close_pages(chromium.http_url, sim.url)
        sim.stop()
        bus.close()
    assert code == 0, ingest.output()


def minute(broker_time: float) -> int:
    """The start of the minute a broker time falls in (a page's newest candle when it ends there)."""
    return int(broker_time // 60 * 60)


def page(end: float, asset: str = ASSET, index: int = 1, **kw: Any) -> dict[str, Any]:
    return {"asset": asset, "index": index, "time": int(end), "offset": 9000, "period": 60} | kw


def recomputed(start: float, end_broker: int) -> list[tuple[float, float, float, float, float]]:
    """The 150 one-minute candles ending at ``end_broker``, rebuilt here from the sim's price path."""
    feed = SimFeed(seed=SEED, assets=ASSETS, rate=RATE, start=start)
    lo = end_broker - OFF - 149 * 60
    out: dict[float, list[float]] = {}
    for t, p in feed.ticks_between(ASSET, lo, end_broker - OFF + 60):
        out.setdefault(t // 60 * 60, []).append(p)
    return [(b, ps[0], max(ps), min(ps), ps[-1]) for b, ps in sorted(out.items())]


def test_the_bridge_finds_the_pages_socket_sends_and_ingest_decodes_the_answer(stack: Stack) -> None:
    # The page's own state before: a mark, its socket instance and its load time.
    stack.js("window.__qfMark = 'kept'; window.__qfSocket = ws; 1")
    origin = stack.js("performance.timeOrigin")
    end = minute(stack.start + OFF - 3600)  # an hour before the market started: the recomputed past
    sent: dict[str, Any] = {}

    async def main() -> None:
        async with PageBridge(stack.settings()) as bridge:
            sent["url"] = bridge.socket_url
            with pytest.raises(NotAllowed):
                await bridge.send("openOrder", {"asset": ASSET, "amount": 1, "action": "call"})
            with pytest.raises(NotAllowed):
                await bridge.send("changeSymbol", {"asset": ASSET, "period": 60})
            assert bridge.frames_sent == 0
            await bridge.send("loadHistoryPeriod", page(end))
            sent["frames"] = bridge.frames_sent
            sent["reconnects"] = bridge.reconnects

    trio.run(main)
    batch = wait_until(lambda: stack.batch_ending(end - OFF), what="the answer in Redis")
    assert batch.asset == ASSET and batch.period == 60 and len(batch.candles) == 150
    assert [tuple(c[:5]) for c in batch.candles] == recomputed(stack.start, end)
    assert sent == {"url": stack.js("ws.url"), "frames": 1, "reconnects": 0}
    # Not reloaded, not reconnected: the same document, the same socket instance.
    assert stack.js("[window.__qfMark, window.__qfSocket === ws, performance.timeOrigin]") == [
        "kept",
        True,
        origin,
    ]
    # The refused frames never reached the broker: no order was seen by the page.
    assert stack.js("document.getElementById('deal').textContent") in ("", "–", "-")


def test_too_fast_requests_and_unknown_assets_get_no_answer(stack: Stack) -> None:
    base = minute(stack.start + OFF - 7200)
    ends = [base - 9000 * i for i in range(5)]

    async def main() -> None:
        # No pacing on our side: the simulator (one request per 0.3 s) drops the second.
        async with PageBridge(stack.settings(bridge_pace=0)) as bridge:
            await bridge.send("loadHistoryPeriod", page(ends[0], index=10))
            await bridge.send("loadHistoryPeriod", page(ends[1], index=11))
        await trio.sleep(0.5)  # past the simulator's gap before the next request
        # Paced as the broker wants, every request is answered, except for an asset it lacks.
        async with PageBridge(stack.settings(bridge_pace=0.5)) as bridge:
            await bridge.send("loadHistoryPeriodFast", page(ends[2], index=12))
            await bridge.send("loadHistoryPeriod", page(ends[3], asset="NOPE_otc", index=13))
            await bridge.send("loadHistoryPeriod", page(ends[4], index=14))

    trio.run(main)
    wait_until(lambda: stack.batch_ending(ends[4] - OFF), what="the last answer")
    # (the page's own chart history on opening is for the first asset, not this one)
    newest = sorted(b.candles[-1][0] + OFF for b in stack.batches() if b.asset == ASSET)
    assert newest == sorted([ends[0], ends[2], ends[4]])  # answers come in order: none is late
    assert "NOPE_otc" not in {b.asset for b in stack.batches()}


def test_after_the_socket_closes_the_bridge_finds_the_new_one(stack: Stack) -> None:
    end = minute(stack.start + OFF - 600)
    result: dict[str, Any] = {}

    async def main() -> None:
        async with PageBridge(stack.settings()) as bridge:
            await bridge.send("loadHistoryPeriod", page(end, index=20, offset=600))
            with trio.fail_after(30):
                # The page asks the broker to disconnect; the broker closes the socket, the page reconnects.
                await trio.to_thread.run_sync(stack.js, "window.__qfOld = ws; ws.send('41'); 1")
                while await trio.to_thread.run_sync(stack.js, "window.__qfOld === ws || ws.readyState !== 1"):
                    await trio.sleep(0.1)
            await bridge.send("loadHistoryPeriod", page(end - 600, index=21, offset=600))
            result["reconnects"] = bridge.reconnects
            result["url"] = bridge.socket_url

    trio.run(main)
    assert result == {"reconnects": 1, "url": stack.js("ws.url")}
    wait_until(lambda: stack.batch_ending(end - OFF - 600), what="the answer through the new socket")
    assert stack.js("window.__qfOld.readyState") == 3  # the old socket really is closed


def test_plain_errors_without_chrome_or_without_a_broker_page(chromium: Chromium) -> None:
    async def enter(settings: BridgeSettings) -> None:
        async with PageBridge(settings):
            pass

    with pytest.raises(NoChrome, match="cannot reach Chrome"):
        trio.run(enter, BridgeSettings(chrome_url=f"http://127.0.0.1:{free_port()}", bridge_timeout=1))
    # This Chromium shows no broker page now (the other tests closed theirs).
    with pytest.raises(NoBrokerPage, match="open the broker's page"):
        trio.run(enter, BridgeSettings(chrome_url=chromium.http_url, bridge_timeout=1))
