"""Real parts for end-to-end ingest tests: the simulated broker, the ingest service, a page driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import trio

from quantumflux.bus.records import Event, HistoryBatch, Tick, decode
from quantumflux.ingest.cdp import browser_ws_url, open_cdp

ROOT = Path(__file__).resolve().parents[2]


def wait_until(cond: Callable[[], Any], guard: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it is truthy; fail after a generous guard time (not a speed check)."""
    deadline = time.monotonic() + guard
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


class SimProcess:
    """`python -m quantumflux.sim` on a free port, writing its ground truth to a file."""

    def __init__(self, workdir: Path, *, seed: int = 7, assets: int = 3, rate: float = 4.0) -> None:
        self.truth = workdir / "truth.jsonl"
        self.log = (workdir / "sim.log").open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.sim", "--port", "0", "--seed", str(seed),
             "--assets", str(assets), "--rate", str(rate), "--truth", str(self.truth)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self.log,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.page = self.proc.stdout.readline().decode().strip()
        if not self.page.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the simulator did not start: {self.page!r}")

    def ticks(self) -> list[tuple[str, float, float]]:
        """Every tick the simulator has sent so far (complete lines only), UTC."""
        out = []
        if not self.truth.exists():
            return out
        for line in self.truth.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line being written
            out.append((row["asset"], float(row["ts"]), float(row["price"])))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class IngestProcess:
    """`python -m quantumflux.ingest` (source cdp) with the test's Redis, prefix and Chrome."""

    def __init__(self, env: dict[str, str], workdir: Path, **extra: str) -> None:
        self.env = dict(env)
        self.env.update(extra)
        self.log_path = workdir / "ingest.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.ingest"], cwd=ROOT, env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)


class Bus:
    """Reads what ingest wrote under one prefix."""

    def __init__(self, url: str, prefix: str, partitions: int = 4) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1)
        self.prefix = prefix
        self.partitions = partitions

    def records(self, partition: int) -> list[Tick | HistoryBatch]:
        rows = self.client.xrange(f"{self.prefix}:ticks:{{{partition}}}")
        return [decode(f[b"d"]) for _id, f in rows]  # type: ignore[misc]

    def ticks(self) -> dict[str, list[tuple[str, float, float]]]:
        """Ticks per asset, in stream order, exactly as published."""
        out: dict[str, list[tuple[str, float, float]]] = {}
        for p in range(self.partitions):
            for rec in self.records(p):
                if isinstance(rec, Tick):
                    out.setdefault(rec.asset, []).append((rec.asset, rec.ts, rec.price))
        return out

    def tick_count(self) -> int:
        return sum(len(v) for v in self.ticks().values())

    def events(self, type_: str | None = None) -> list[Event]:
        evs = [decode(f[b"d"]) for _id, f in self.client.xrange(f"{self.prefix}:events")]
        return [e for e in evs if isinstance(e, Event) and (type_ is None or e.type == type_)]

    def close(self) -> None:
        self.client.close()


def by_asset(ticks: list[tuple[str, float, float]]) -> dict[str, list[tuple[str, float, float]]]:
    out: dict[str, list[tuple[str, float, float]]] = {}
    for t in ticks:
        out.setdefault(t[0], []).append(t)
    return out


def all_sent_arrived(sim: SimProcess, bus: Bus, since: float = 0.0) -> bool:
    """Every tick the simulator sent (after ``since``, UTC) is in Redis."""
    got = {t for rows in bus.ticks().values() for t in rows}
    return all(t in got for t in sim.ticks() if t[1] > since)


def page_call(chrome_url: str, page_prefix: str, method: str, params: dict[str, Any] | None = None) -> Any:
    """Run one CDP command on the first tab whose URL starts with ``page_prefix``, on our own session."""

    async def main() -> Any:
        ws, _ = await browser_ws_url(chrome_url)
        # A test helper, not the capture: a busy machine may take more than the capture's 2 s.
        async with (
            open_cdp(ws, lambda _m: None, open_timeout=15, ping_timeout=15) as conn,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(conn.read_forever)
            targets = (await conn.send("Target.getTargets"))["targetInfos"]
            target = next(t for t in targets if t["type"] == "page" and t["url"].startswith(page_prefix))
            sid = (
                await conn.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
            )["sessionId"]
            result = await conn.send(method, params or {}, session_id=sid, timeout=10)
            await conn.send("Target.detachFromTarget", {"sessionId": sid})
            nursery.cancel_scope.cancel()
            return result

    return trio.run(main)


def browser_call(chrome_url: str, method: str, params: dict[str, Any] | None = None) -> Any:
    """Run one browser-level CDP command (open or close a tab)."""

    async def main() -> Any:
        ws, _ = await browser_ws_url(chrome_url)
        # A test helper, not the capture: a busy machine may take more than the capture's 2 s.
        async with (
            open_cdp(ws, lambda _m: None, open_timeout=15, ping_timeout=15) as conn,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(conn.read_forever)
            result = await conn.send(method, params or {}, timeout=10)
            nursery.cancel_scope.cancel()
            return result

    return trio.run(main)


def pick_on_page(chrome_url: str, page: str, asset: str, period: int) -> str:
    """Choose an asset and timeframe in the simulator page's pickers, as a user would."""
    expr = (
        "(() => { const a = document.getElementById('asset'); const t = document.getElementById('timeframe');"
        f" a.value = {json.dumps(asset)}; t.value = {json.dumps(str(period))};"
        " a.dispatchEvent(new Event('change')); return a.value + '/' + t.value; })()"
    )
    res = page_call(chrome_url, page, "Runtime.evaluate", {"expression": expr, "returnByValue": True})
    return str(res["result"].get("value"))


def close_pages(chrome_url: str, prefix: str) -> None:
    """Close every tab whose URL starts with ``prefix``."""
    targets = browser_call(chrome_url, "Target.getTargets")["targetInfos"]
    for t in targets:
        if t["type"] == "page" and t["url"].startswith(prefix):
            browser_call(chrome_url, "Target.closeTarget", {"targetId": t["targetId"]})
