"""A real headless Chromium on the simulated broker, with the real ingest worker on Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from quantumflux.backfill.config import BackfillSettings
from quantumflux.files.collect import collected_files
from quantumflux.files.layout import parse_iso_utc
from quantumflux.ingest.chrome import Chromium
from quantumflux.sim.feed import SimFeed
from tests.ingest.stack import Bus, IngestProcess, close_pages, page_call, wait_until
from tests.sim.test_server import Sim, start_sim

SEED, ASSETS, RATE = 5, 2, 2.0
ASSET_NAMES = ("EURUSD_otc", "GBPUSD_otc")
HISTORY_GAP = 0.05  # the simulator's limit between two requests, small so tests run quickly


@dataclass
class Stack:
    chrome: str
    sim: Sim
    start: float
    bus: Bus
    data: Path
    env: dict[str, str]

    def js(self, expression: str) -> Any:
        """Evaluate in the broker page, as a test looking at the page's own state."""
        params = {"expression": expression, "returnByValue": True}
        return page_call(self.chrome, self.sim.url, "Runtime.evaluate", params)["result"].get("value")

    def settings(self, **kw: Any) -> BackfillSettings:
        base: dict[str, Any] = {
            "redis_url": self.env["QF_REDIS_URL"],
            "prefix": self.env["QF_PREFIX"],
            "data_dir": self.data,
            "chrome_url": self.chrome,
            "bridge_pace": 0.1,
            "backfill_timeout": 5.0,
        }
        return BackfillSettings(**(base | kw))

    def cli_env(self, **kw: str) -> dict[str, str]:
        return self.env | {"QF_CHROME_URL": self.chrome, "QF_DATA_DIR": str(self.data)} | kw

    def feed(self) -> SimFeed:
        """The simulator's market rebuilt here, with its live walk run up to now."""
        feed = SimFeed(seed=SEED, assets=ASSETS, rate=RATE, start=self.start)
        feed.step(time.time())
        return feed


def start_stack(
    chromium: Chromium, env: dict[str, str], tmp_path: Path, gap: float = HISTORY_GAP
) -> tuple[Stack, IngestProcess]:
    start = round(time.time(), 3)
    sim = start_sim(
        tmp_path, "--seed", str(SEED), "--assets", str(ASSETS), "--rate", str(RATE), "--start", repr(start),
        "--history-gap", str(gap),
    )  # fmt: skip
    # Ingest opens the broker page itself, so it sees the page's socket from its first frame.
    ingest = IngestProcess(env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.url)
    bus = Bus(env["QF_REDIS_URL"], env["QF_PREFIX"])
    s = Stack(chromium.http_url, sim, start, bus, tmp_path / "data", env)
    try:
        wait_until(lambda: bus.tick_count() >= 4, what="live ticks in Redis")
        wait_until(
            lambda: s.js("document.getElementById('status').textContent") == "connected", what="the page"
        )
    except BaseException:
        stop_stack(s, ingest)
        raise
    return s, ingest


def stop_stack(s: Stack, ingest: IngestProcess) -> int:
    code = ingest.stop()
    close_pages(s.chrome, s.sim.url)
    s.sim.stop()
    s.bus.close()
    return code


def _stack(chromium: Chromium, env: dict[str, str], tmp_path: Path, gap: float) -> Iterator[Stack]:
    s, ingest = start_stack(chromium, env, tmp_path, gap)
    try:
        yield s
    finally:
        code = stop_stack(s, ingest)
    assert code == 0, ingest.output()


@pytest.fixture
def stack(chromium: Chromium, test_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(chromium, test_env, tmp_path, HISTORY_GAP)


@pytest.fixture
def strict_stack(chromium: Chromium, test_env: dict[str, str], tmp_path: Path) -> Iterator[Stack]:
    """A simulator that drops requests closer than 0.3 s, its default."""
    yield from _stack(chromium, test_env, tmp_path, 0.3)


def file_rows(data: Path, asset: str, tf: int) -> list[list[str]]:
    """Every row of the collected files of one series, in file order (header lines checked)."""
    rows = []
    for path in collected_files(data, asset, tf):
        lines = path.read_text().splitlines()
        assert lines[0] == "timestamp,open,high,low,close,ticks,volume,complete"
        rows += [line.split(",") for line in lines[1:]]
    return rows


def file_times(data: Path, asset: str, tf: int) -> list[int]:
    return [int(parse_iso_utc(r[0])) for r in file_rows(data, asset, tf)]


def recomputed(feed: SimFeed, asset: str, tf: int, first: int, newest: int) -> dict[int, tuple[Any, ...]]:
    """The candles of the sim's price path, rebuilt here: time -> (open, high, low, close, ticks)."""
    out: dict[int, list[float]] = {}
    for t, p in feed.ticks_between(asset, first, newest + tf):
        out.setdefault(int(t // tf * tf), []).append(p)
    return {b: (ps[0], max(ps), min(ps), ps[-1], len(ps)) for b, ps in out.items()}
