"""Real parts for the trader's end-to-end tests: the simulated broker in a headless Chromium,
ingest capturing it, the trader service, signals published as a strategy publishes them, and a
local webhook receiver for the notices."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import pack, unpack
from quantumflux.bus.trading import Order, Signal, order_from_map
from quantumflux.sim.server import deals_truth_path
from quantumflux.trader.store import OrderStore
from tests.ingest.stack import ROOT, IngestProcess, close_pages, page_call, wait_until
from tests.sim.test_server import Sim, start_sim

TF = 5  # seconds: the strategy's candles

# Limits wide enough that only the rule a test is about can stop it.
WIDE = {
    "QF_TRADE_MAX_OPEN": "3",
    "QF_TRADE_MAX_PER_HOUR": "500",
    "QF_TRADE_DAILY_LOSS": "1000",
    "QF_TRADE_MAX_LOSSES": "100",
    "QF_TRADE_MIN_PAYOUT": "0.5",
}


class Receiver:
    """A tiny HTTP server keeping every JSON body posted to it (apprise's ``json://``)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def titles(self) -> list[str]:
        return [str(b.get("title")) for b in list(self.bodies)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TraderProcess(IngestProcess):
    """``python -m quantumflux.trader`` with the test's Redis, prefix and Chrome (stopped and read
    like ingest)."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        self.env = dict(env)
        self.log_path = workdir / f"trader-{time.monotonic_ns()}.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.trader", *args], cwd=ROOT, env=env,
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()


@dataclass
class Market:
    """The sim in Chromium, ingest, and what the trader tests read and write in Redis."""

    chrome: str
    sim: Sim
    ingest: IngestProcess
    client: redis.Redis
    keys: Keys
    env: dict[str, str]
    workdir: Path
    traders: list[TraderProcess] = field(default_factory=list)

    @property
    def store(self) -> OrderStore:
        return OrderStore(self.client, self.keys)

    def js(self, expression: str) -> Any:
        res = page_call(
            self.chrome, self.sim.url, "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        return res["result"].get("value")

    def trader(self, *args: str, **env: str) -> TraderProcess:
        full = {**self.env, "QF_CHROME_URL": self.chrome, "QF_TRADE": "demo", **WIDE, **env}
        proc = TraderProcess(full, self.workdir, *args)
        self.traders.append(proc)
        return proc

    def status(self) -> dict[str, Any]:
        return self.store.status() or {}

    def wait_trading(self, proc: TraderProcess, state: str = "trading") -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            if proc.proc.poll() is not None:
                raise AssertionError(f"the trader ended: {proc.output()}")
            got = self.status()
            return got if got.get("state") == state else None

        return wait_until(ready, guard=60, what=f"the trader to be {state}")  # type: ignore[no-any-return]

    def signal(self, direction: int, asset: str = "EURUSD_otc", closed_at: float | None = None) -> Signal:
        """A strategy's signal at the close of a 5-second candle (now, unless ``closed_at``)."""
        close = int(time.time()) // TF * TF if closed_at is None else int(closed_at)
        sig = Signal(
            id=f"test#{close}#{direction}",
            asset=asset,
            timeframe=TF,
            time=close - TF,
            direction=direction,
            confidence=0.9,
            strategy="test",
            params=None,
            run="test",
            price=1.0,
            ts=time.time(),
        )
        self.client.xadd(self.keys.signals(), {"d": pack(sig)})
        return sig

    def orders(self) -> list[Order]:
        return [order_from_map(unpack(f[b"d"])) for _id, f in self.client.xrange(self.keys.orders())]

    def latest(self) -> dict[str, Order]:
        return {o.request_id: o for o in self.orders()}

    def deals(self) -> list[dict[str, Any]]:
        path = deals_truth_path(self.sim.truth)
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    def balances(self) -> list[float]:
        out = []
        for _id, f in self.client.xrange(self.keys.events()):
            obj = unpack(f[b"d"])
            if obj.get("type") == "balance":
                out.append(float(obj["balance"]))
        return out

    def close(self) -> None:
        for proc in self.traders:
            if proc.proc.poll() is None:
                proc.stop()
        self.ingest.stop()
        close_pages(self.chrome, self.sim.url)
        self.sim.stop()
        self.client.close()


def open_market(
    chrome: str, env: dict[str, str], redis_url: str, prefix: str, workdir: Path, *sim_args: str
) -> Iterator[Market]:
    """Sim + ingest on the given Chromium, ready when the page is connected and its balance known."""
    sim = start_sim(workdir, "--seed", "5", "--assets", "2", "--rate", "4", *sim_args)
    ingest = IngestProcess(env, workdir, QF_CHROME_URL=chrome, QF_OPEN_URL=sim.url)
    market = Market(chrome, sim, ingest, redis.Redis.from_url(redis_url), Keys(prefix), env, workdir)
    try:
        wait_until(lambda: market.balances(), what="the page's balance in Redis")
        yield market
    finally:
        market.close()
