"""What the web app's end-to-end tests share: the built app, a gateway process, candles published
to Redis, and a real Chromium driven through the page driver in ``web/e2e/driver.mjs``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, Event, pack
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"


def chrome_bin() -> str | None:
    """The Chromium the tests drive: QF_CHROME_BIN or the OS one."""
    found = os.environ.get("QF_CHROME_BIN") or shutil.which("chromium") or shutil.which("chromium-browser")
    return found if found and Path(found).exists() else None


def _newest(paths: Iterable[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def ensure_web_built() -> None:
    """Install the web app's packages and build it when the build is missing or older than its sources."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (the set-up script installs it)")
    if chrome_bin() is None:
        pytest.skip("Chromium is not installed (the set-up script installs it)")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    sources = [
        *WEB.joinpath("src").rglob("*"),
        WEB / "index.html",
        WEB / "bench.html",
        WEB / "vite.config.js",
    ]
    index = WEB / "dist" / "index.html"
    if not index.is_file() or index.stat().st_mtime < _newest(sources):
        subprocess.run(["npm", "run", "--silent", "build"], cwd=WEB, check=True, stdout=subprocess.DEVNULL)


class Gateway:
    """``python -m quantumflux.gateway`` on a port of its own, which a test may kill and start again."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = {**env, "QF_GATEWAY_PORT": str(port), "QF_GATEWAY_POLL_INTERVAL": "0.3"}
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "quantumflux.gateway"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway stopped at start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the gateway did not answer:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Stop it the hard way, as a crash looks to browsers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class Bus:
    """Publishes what the candle service and ingest would: candles, series and events."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.keys = Keys(prefix)

    def candle(self, c: Candle, series: bool = True) -> None:
        self.r.xadd(self.keys.candles(c.tf), {"d": pack(c)})
        if series and c.closed:
            key = self.keys.series(c.asset, c.tf)
            self.r.zremrangebyscore(key, c.time, c.time)
            self.r.zadd(key, {pack(c): c.time})

    def event(self, type_: str, **data: Any) -> None:
        self.r.xadd(self.keys.events(), {"d": pack(Event(type=type_, ts=time.time(), data=data))})


def walk(asset: str, tf: int, n: int, start: int, seed: int) -> list[Candle]:
    """``n`` closed candles of a seeded random walk, ``tf`` seconds apart from ``start``."""
    import random

    rnd = random.Random(seed)
    price = 1.0 + seed / 10
    out = []
    for i in range(n):
        o = price
        c = round(o + rnd.uniform(-0.002, 0.002), 5)
        h = round(max(o, c) + rnd.uniform(0, 0.001), 5)
        lo = round(min(o, c) - rnd.uniform(0, 0.001), 5)
        out.append(Candle(asset, tf, start + i * tf, o, h, lo, c, rnd.randint(5, 50), True))
        price = c
    return out


def publish_recent(bus: Bus, asset: str, seed: int, n: int = 40) -> list[Candle]:
    """``n`` one-minute candles of a seeded walk up to the current minute, published with the
    page reported connected: a live chart with nothing left to wait for."""
    rows = walk(asset, 60, n, (int(time.time()) // 60 - n) * 60, seed=seed)
    for c in rows:
        bus.candle(c)
    bus.event("chrome_status", state="connected", reason="")
    return rows


class Page:
    """A real headless Chromium on one page, driven by ``web/e2e/driver.mjs`` over JSON lines."""

    def __init__(self) -> None:
        env = {**os.environ, "QF_CHROME_BIN": chrome_bin() or ""}
        self.proc = subprocess.Popen(
            ["node", str(WEB / "e2e" / "driver.mjs")],
            cwd=WEB,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def do(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the page driver stopped")
        answer = json.loads(line)
        if not answer["ok"]:
            logs = self.do("logs") if op != "logs" else []
            raise AssertionError(f"{op} {args}: {answer['error']}\npage log: {logs}")
        return answer["value"]

    def wait(self, testid: str, timeout: float = 15, **cond: Any) -> Any:
        """Wait until the element's text (or ``attr``) meets ``equals``/``notEquals``/``matches``."""
        return self.do("wait", testid=testid, timeout=int(timeout * 1000), **cond)

    def wait_count(self, testid: str, count: int, timeout: float = 30) -> None:
        """Wait until exactly ``count`` elements carry ``testid``."""
        deadline = time.monotonic() + timeout
        while (got := self.do("count", testid=testid)) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{got} elements {testid!r}, waited for {count}")
            time.sleep(0.1)

    def chart_candles(self, chart: str = "chart") -> list[dict[str, float]] | None:
        """What chart ``chart`` (its testid) really holds: its series' data, read from
        lightweight-charts itself. Needs a page opened with ``?probe=1`` (see ``probe_url``)."""
        got = self.do("chart_candles", chart=chart)
        return None if got is None else list(got)

    def wait_chart_candles(
        self, want: Iterable[Candle], chart: str = "chart", timeout: float = 15
    ) -> list[dict[str, float]]:
        """Wait until the chart's series holds exactly ``want`` (times and OHLC), in order."""
        expected = [
            {"time": c.time, "open": c.open, "high": c.high, "low": c.low, "close": c.close} for c in want
        ]
        deadline = time.monotonic() + timeout
        while True:
            got = self.chart_candles(chart)
            if got == expected:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{chart} holds {_differences(got, expected)}")
            time.sleep(0.1)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.do("screenshot", path=str(path))
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)


def markers(page: Page) -> list[dict[str, Any]]:
    """The markers the live chart draws (signals, paper trades, orders, deals)."""
    return json.loads(page.do("read", testid="chart", attr="data-markers") or "[]")


def wait_markers(page: Page, want: set[tuple[str, Any]], timeout: float = 15) -> list[dict[str, Any]]:
    """The chart's markers once every ``(kind, time)`` of ``want`` is among them."""
    deadline = time.monotonic() + timeout
    while True:
        got = markers(page)
        if want <= {(m["kind"], m["time"]) for m in got}:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"markers {sorted(want)} not all drawn; drawn: {got}")
        time.sleep(0.1)


def probe_url(url: str) -> str:
    """The app's address with the test flag that lets ``Page.chart_candles`` read the charts."""
    return f"{url}/?probe=1"


def _differences(got: list[dict[str, float]] | None, want: list[dict[str, float]]) -> str:
    if got is None:
        return "nothing readable (was the page opened with ?probe=1?)"
    wrong = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w]
    return (
        f"{len(got)} candles where {len(want)} were sent; first differences (index, held, sent): {wrong[:3]}"
    )


@contextlib.contextmanager
def served_gateway(env: dict[str, str], tmp_path: Path) -> Iterator[Gateway]:
    """A real gateway on a free port serving the built web app, stopped afterwards."""
    ensure_web_built()
    gw = Gateway(env, free_port(), tmp_path / "gateway.log")
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
