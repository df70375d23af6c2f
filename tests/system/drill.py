"""The fault drill: the running stack is put through each fault in turn, and the drill writes down
when each began, when the service was started again and when the flow was back.

Between faults the drill waits for normal flow measured by the flow itself (closed candles
stored and seen by a chart), never for a fixed time: a slow machine makes the drill longer, not
wrong. The only fixed pauses are parts of the faults themselves (how long Redis stays dead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import redis

from quantumflux.bus.ids import id_tuple, text
from quantumflux.bus.records import unpack
from quantumflux.bus.streams import groups as stream_groups
from tests.system.audit import (
    Bar,
    Published,
    TickRow,
    Window,
    bar_from_map,
    candle_rows,
    fold_published,
    tick_rows,
)
from tests.system.harness import ChartClient, Stack, caught_up, wait_until

ASSET = "EURUSD_otc"  # the stream the chart client watches
TFS = (5, 15)
RESTART_DELAY = 1.5  # what an orchestrator waits before starting a crashed service again
REDIS_DOWN = 3.0  # how long Redis stays dead
CHROME_DOWN = 2.0  # how long the broker has no browser to send to
STEADY_BARS = 2  # closed 5 s candles of normal flow between two faults
MARGIN = 1.0  # ticks this close before a capture gap may still have been in flight
GUARD = 90.0  # how long a wait may take before the drill gives up on it (not a speed check)


def read_events(client: redis.Redis, prefix: str) -> list[dict[str, Any]]:
    out = []
    for eid, fields in client.xrange(f"{prefix}:events"):
        try:
            d = msgpack.unpackb(fields[b"d"], raw=False)
        except Exception:
            continue
        if isinstance(d, dict):
            d["_id"] = text(eid)
            out.append(d)
    return out


def newest_id_ms(client: redis.Redis, keys: list[str]) -> float:
    """Wall time (ms) of the newest entry of any of ``keys`` (Redis ids start with the ms time)."""
    best = 0.0
    for k in keys:
        last = client.xrevrange(k, count=1)
        if last:
            best = max(best, float(id_tuple(last[0][0])[0]))
    return best


def bars_in_stream(client: redis.Redis, prefix: str, tf: int, since: float = 0.0) -> list[Bar]:
    """The closed candles of ``qf:bars:<tf>``, those published after wall time ``since`` only."""
    return [
        bar_from_map(msgpack.unpackb(f[b"d"], raw=False))
        for _i, f in client.xrange(f"{prefix}:bars:{tf}", min=f"{int(since * 1000)}-0")
    ]


def files_on_disk(data_dir: Path) -> tuple[list[TickRow], dict[int, list[Bar]]]:
    root = data_dir / "realtime_stream"
    ticks = []
    for p in sorted((root / "tick_data").glob("*.csv")):
        ticks += tick_rows(p.name, p.read_text())
    bars: dict[int, list[Bar]] = {}
    for folder in sorted(root.glob("*_candle_data")):
        for p in sorted(folder.glob("*.csv")):
            for b in candle_rows(p.name, p.read_text()):
                bars.setdefault(b[1], []).append(b)
    return ticks, bars


def published_entries(client: redis.Redis, keys: list[str]) -> list[Published]:
    """What ingest published, per partition in stream order, as the audit's plain tuples."""
    out: list[Published] = []
    for k in keys:
        for i, f in client.xrange(k):
            d = msgpack.unpackb(f[b"d"], raw=False)
            if d.get("kind") == "tick":
                out.append(("tick", d["asset"], d["ts"], d["price"]))
            elif d.get("kind") == "history":
                arrival = id_tuple(i)[0] / 1000  # a stream id starts with its wall time, ms
                out.append(
                    ("history", d["asset"], tuple((t[0], t[1]) for t in d.get("ticks") or []), arrival)
                )
    return out


def closed_candles(received: list[tuple[float, str, Any]]) -> list[dict[str, Any]]:
    """The closed candles a chart client was sent, live or inside a history."""
    closed: list[dict[str, Any]] = []
    for _t, name, data in received:
        if name == "candle_update" and data.get("closed"):
            closed.append(data)
        elif name == "history":
            closed += [c for c in data.get("candles", []) if c.get("closed")]
    return closed


def settle(cond: Callable[[], Any], guard: float = GUARD) -> bool:
    """Wait until ``cond`` holds; False (instead of an error) when it never does, so the audit can
    say what is missing rather than the run stopping half-way."""
    try:
        wait_until(cond, guard)
    except AssertionError:
        return False
    return True


@dataclass
class Collected:
    """Everything the audit compares, read once the flow has drained."""

    events: list[dict[str, Any]]
    truth: list[TickRow]
    published: list[Published]
    captured: list[TickRow]
    csv_bars: dict[int, list[Bar]]
    stream_bars: dict[int, list[Bar]]
    received: list[tuple[float, str, Any]]
    t_end: float


@dataclass
class FaultDrill:
    """The stack taken through every fault, and what was written down about each."""

    stack: Stack
    chart: ChartClient
    rc: redis.Redis
    faults: list[dict[str, Any]] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    stalls: list[str] = field(default_factory=list)  # waits for normal flow that never ended

    @property
    def prefix(self) -> str:
        return self.stack.prefix

    @property
    def tick_keys(self) -> list[str]:
        return [f"{self.prefix}:ticks:{{{p}}}" for p in range(4)]

    # ---------------------------------------------------------------- what "flowing" means

    def new_bar(self, t1: float) -> bool:
        return newest_id_ms(self.rc, [f"{self.prefix}:bars:5"]) > t1 * 1000

    def new_tick(self, t1: float) -> bool:
        # Capture marks arrive every second even with no tick: only a tick says ticks flow.
        since = f"{int(t1 * 1000) + 1}-0"
        return any(
            unpack(fields[b"d"]).get("kind") == "tick"
            for k in self.tick_keys
            for _id, fields in self.rc.xrange(k, min=since)
        )

    def persisted(self, _t1: float = 0.0) -> bool:
        return all(caught_up(self.rc, k, "persistence") for k in self.tick_keys)

    def chart_saw(self, bar: Bar) -> bool:
        """The chart client was sent this closed candle of its stream."""
        return any(
            (c.get("asset"), c.get("time")) == (bar[0], bar[2]) for c in closed_candles(self.chart.received())
        )

    def steady(self, after: str) -> None:
        """Normal flow: STEADY_BARS more closed candles of the chart's stream, stored and shown."""
        since = time.time()

        def flowing() -> bool:
            mine = [b for b in bars_in_stream(self.rc, self.prefix, 5, since) if b[0] == ASSET]
            return len(mine) >= STEADY_BARS and self.chart_saw(mine[-1]) and self.persisted()

        if not settle(flowing):
            self.stalls.append(f"normal flow never came back after {after}")

    # ---------------------------------------------------------------- the faults

    def restart_service(self, name: str, flows: Callable[[float], Any]) -> dict[str, Any]:
        proc = self.stack.procs[name]
        old = proc.instance
        t0 = proc.kill()
        time.sleep(RESTART_DELAY)
        proc.start()
        t1 = time.time()
        t_ok = wait_until(lambda: flows(t1) and time.time(), 60, f"{name} to work again")
        fault = {"fault": f"SIGKILL {name}", "service": name, "start": t0, "restart": t1, "ok": t_ok}
        self.faults.append({**fault, "old": old, "new": proc.instance})
        return self.faults[-1]

    def backend_reconnects(self) -> int:
        return sum(1 for _t, n, _d in self.chart.received() if n == "backend_reconnected")

    def kill_ingest(self) -> None:
        f = self.restart_service("ingest", self.new_tick)
        attached = min(
            (
                e["ts"]
                for e in read_events(self.rc, self.prefix)
                if e["type"] == "chrome_status" and e["ts"] > f["restart"]
            ),
            default=f["ok"],
        )
        self.windows.append(Window(f["start"] - MARGIN, attached + 0.5, "ingest down: nobody was capturing"))

    def kill_redis(self, server: Any) -> None:
        """Redis dies and comes back (append-only, so what it had acknowledged is still there)."""
        t0 = time.time()
        server.stop()
        time.sleep(REDIS_DOWN)
        server.start()
        t1 = time.time()
        t_ok = wait_until(
            lambda: self.new_tick(t1) and self.new_bar(t1) and self.persisted() and time.time(),
            GUARD,
            "flow after Redis",
        )
        self.faults.append({"fault": "Redis killed and restarted", "start": t0, "restart": t1, "ok": t_ok})

    def kill_chrome(self) -> None:
        chrome = self.stack.chrome
        assert chrome is not None
        t0 = chrome.kill()
        time.sleep(CHROME_DOWN)
        chrome.start()
        t1 = time.time()
        t_ok = wait_until(lambda: self.new_tick(t1) and time.time(), 60, "ticks after Chromium came back")
        back = min(
            (
                e["ts"]
                for e in read_events(self.rc, self.prefix)
                if e["type"] == "chrome_status" and e["ts"] > t1 and e.get("state") != "disconnected"
            ),
            default=t_ok,
        )
        self.windows.append(
            Window(t0 - MARGIN, back + 0.5, "Chromium down: the broker had no page to send to")
        )
        self.faults.append({"fault": "Chromium killed and restarted", "start": t0, "restart": t1, "ok": t_ok})

    def reload_page(self) -> None:
        chrome, sim = self.stack.chrome, self.stack.sim
        assert chrome is not None and sim is not None
        page = sim.page
        wait_until(lambda: any(t["url"].startswith(page) for t in chrome.targets() or []), 30, "page")
        t0 = time.time()
        chrome.page_command(page, "Page.reload", {"ignoreCache": True})
        t_ok = wait_until(
            lambda: self.new_tick(t0 + 1.0) and time.time(), 60, "ticks after the page reloaded"
        )
        # Frames already on their way to the old page are dropped by the browser as it navigates.
        self.windows.append(
            Window(t0 - 0.5, t_ok, "broker page reloading: its old socket was being torn down")
        )
        self.faults.append({"fault": "broker page reloaded", "start": t0, "restart": t0, "ok": t_ok})

    def run(self, redis_server: Any) -> Collected:
        """Every fault in turn with normal flow between them, then the drain; returns what to audit."""
        self.steady("the start")
        self.restart_service("candles", self.new_bar)
        self.steady("SIGKILL candles")
        self.restart_service("persistence", lambda t1: self.persisted() and self.new_tick(t1))
        self.steady("SIGKILL persistence")
        before = self.backend_reconnects()
        self.restart_service("gateway", lambda _t1: self.backend_reconnects() > before)
        self.steady("SIGKILL gateway")
        self.kill_ingest()
        self.steady("SIGKILL ingest")
        self.kill_redis(redis_server)
        self.steady("Redis killed and restarted")
        self.kill_chrome()
        self.steady("Chromium killed and restarted")
        self.reload_page()
        self.steady("broker page reloaded")
        return self.drain()

    # ---------------------------------------------------------------- the end

    def last_candles_closed(self, published: list[Published]) -> Callable[[], bool]:
        """Whether every asset's newest candle (by the audit's own fold) is in the stream."""
        newest: dict[int, set[tuple[str, int]]] = {}
        for tf in TFS:
            fold, _late = fold_published(published, tf)
            last: dict[str, int] = {}
            for asset, bucket in fold:
                last[asset] = max(bucket, last.get(asset, bucket))
            newest[tf] = set(last.items())

        def closed() -> bool:
            return all(
                newest[tf] <= {(b[0], b[2]) for b in bars_in_stream(self.rc, self.prefix, tf)} for tf in TFS
            )

        return closed

    def drain(self) -> Collected:
        """The broker stops; everything it sent must drain to the files, the streams and the chart."""
        sim = self.stack.sim
        assert sim is not None
        sim.proc.stop()
        t_end = time.time()
        wait_until(self.persisted, 60, "persistence to catch up")
        # The last candles close on the wall clock, a grace after their end.
        if not settle(self.last_candles_closed(published_entries(self.rc, self.tick_keys))):
            self.stalls.append("the last candles never closed after the broker stopped")
        wait_until(
            lambda: all(
                caught_up(self.rc, f"{self.prefix}:bars:{tf}", g.name)
                for tf in TFS
                for g in stream_groups(self.rc, f"{self.prefix}:bars:{tf}")
            ),
            60,
            "candle files to catch up",
        )
        mine = [b for b in bars_in_stream(self.rc, self.prefix, 5) if b[0] == ASSET]
        if mine and not settle(lambda: self.chart_saw(mine[-1])):
            self.stalls.append("the chart client never got the last closed candle")
        captured, csv_bars = files_on_disk(self.stack.data_dir)
        return Collected(
            events=read_events(self.rc, self.prefix),
            truth=sim.ticks(),
            published=published_entries(self.rc, self.tick_keys),
            captured=captured,
            csv_bars=csv_bars,
            stream_bars={tf: bars_in_stream(self.rc, self.prefix, tf) for tf in TFS},
            received=self.chart.received(),
            t_end=t_end,
        )
