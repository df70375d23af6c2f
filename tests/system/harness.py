"""The whole stack as real processes, for the fault test and the soak run.

Everything is driven through public contracts only: the service commands (``python -m
services.<svc>`` is ``qf <svc>``), ``QF_*`` settings, the Redis keys of DESIGN §2, the CSV files
of §4, Socket.IO events of §5 and the DevTools HTTP/WebSocket endpoints of the browser. The
harness plays the orchestrator: it starts each piece, kills it with SIGKILL and starts it again,
and writes down when, so the audit knows which windows a fault could explain.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import redis

from quantumflux.bus.streams import groups as stream_groups

ROOT = Path(__file__).resolve().parents[2]
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--log-level=3",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def caught_up(client: redis.Redis, key: str, name: str) -> bool:
    """The consumer group has read everything on the stream and acknowledged it.

    The lag comes from ``quantumflux.bus.streams.groups``, which counts it when Redis cannot tell.
    """
    found = [g for g in stream_groups(client, key) if g.name == name]
    return bool(found) and found[0].lag == 0 and found[0].pending == 0


def wait_until(cond: Callable[[], Any], guard: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it is truthy; fail after a generous guard time (not a speed check)."""
    deadline = time.monotonic() + guard
    while True:
        try:
            got = cond()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def chrome_binary() -> str:
    """The browser to start: QF_CHROME_BIN, else Debian's chromium, else one on the PATH."""
    env = os.environ.get("QF_CHROME_BIN")
    if env:
        return env
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("no Chromium found: install the 'chromium' package or set QF_CHROME_BIN")


@dataclass
class Proc:
    """One child process we own; ``kill`` is SIGKILL to its own process group (it and its children)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    logdir: Path
    starts: int = 0
    proc: subprocess.Popen[bytes] | None = None
    history: list[tuple[str, float, int]] = field(default_factory=list)  # (what, wall time, pid)

    def start(self) -> Proc:
        self.starts += 1
        log = (self.logdir / f"{self.name}.{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.history.append(("start", time.time(), self.proc.pid))
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def instance(self) -> str:
        """The instance name the service gives itself by default (host-pid)."""
        import socket

        return f"{socket.gethostname()}-{self.pid}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> float:
        """SIGKILL, like a crash; returns the wall time of the kill."""
        assert self.proc is not None
        t = time.time()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.history.append(("kill", t, self.proc.pid))
        return t

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Whatever it left in its group (a browser's renderers) goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.history.append(("stop", time.time(), self.proc.pid))
        return self.proc.returncode

    def output(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob(f"{self.name}.*.log")))


def python_service(name: str, module: str, env: dict[str, str], logdir: Path, *args: str) -> Proc:
    """``python -m services.<module> ARGS`` (the same program as ``qf <command>``)."""
    return Proc(name, [sys.executable, "-m", module, *args], env, logdir)


class Chrome:
    """A headless Chromium on a fixed loopback debugging port, restartable with a fresh profile."""

    def __init__(self, logdir: Path, port: int) -> None:
        self.port = port
        self.logdir = logdir
        self.binary = chrome_binary()
        self.proc: Proc | None = None
        self._profiles: list[Path] = []

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Chrome:
        profile = Path(tempfile.mkdtemp(prefix="qf-sys-chrome-"))
        self._profiles.append(profile)
        argv = [
            self.binary,
            *CHROME_FLAGS,
            "--remote-debugging-address=127.0.0.1",
            f"--remote-debugging-port={self.port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        if self.proc is None:
            self.proc = Proc("chromium", argv, dict(os.environ), self.logdir)
        else:
            self.proc.argv = argv
        self.proc.start()
        wait_until(lambda: self.targets() is not None, 30, "Chromium's debugging port")
        return self

    def targets(self) -> list[dict[str, Any]] | None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.http_url}/json/list", timeout=1.0) as resp:
                got = json.loads(resp.read())
                return got if isinstance(got, list) else None
        except (OSError, ValueError):
            return None

    def page_command(self, url_prefix: str, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send one CDP command to the first tab showing ``url_prefix`` (own connection to the tab)."""
        import websocket  # websocket-client

        page = next(
            t for t in self.targets() or [] if t.get("type") == "page" and t["url"].startswith(url_prefix)
        )
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=10, suppress_origin=True)
        try:
            ws.send(json.dumps({"id": 1, "method": method, "params": params or {}}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == 1:
                    return msg.get("result")
        finally:
            ws.close()

    def kill(self) -> float:
        assert self.proc is not None
        return self.proc.kill()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=3)
        for p in self._profiles:
            shutil.rmtree(p, ignore_errors=True)


class Sim:
    """The simulated broker (``qf sim``) on a free port, writing every tick it sent to a truth file."""

    def __init__(self, workdir: Path, *, seed: int, assets: int, rate: float) -> None:
        self.truth = workdir / "truth.jsonl"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
        self.proc = Proc(
            "sim",
            [sys.executable, "-m", "quantumflux.sim", "--port", "0", "--seed", str(seed),
             "--assets", str(assets), "--rate", str(rate), "--truth", str(self.truth)],
            env, workdir,
        )  # fmt: skip
        self.page = ""

    def start(self) -> Sim:
        self.proc.start()
        log = self.proc.logdir / f"sim.{self.proc.starts}.log"

        def url() -> str | None:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("http://127.0.0.1:"):
                    return line.strip()
            return None

        self.page = wait_until(url, 20, "the simulated broker's address")
        return self

    def ticks(self) -> list[tuple[str, float, float]]:
        """Every tick the simulator sent (complete lines only), UTC."""
        out: list[tuple[str, float, float]] = []
        if not self.truth.exists():
            return out
        for line in self.truth.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            out.append((row["asset"], float(row["ts"]), float(row["price"])))
        return out


class Watcher:
    """Samples heartbeats, stream lengths and group lag every ``interval`` seconds in a thread."""

    def __init__(self, url: str, prefix: str, interval: float = 0.5) -> None:
        self.url = url
        self.prefix = prefix
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self, client: redis.Redis) -> dict[str, Any]:
        beats = []
        for key in client.scan_iter(match=f"{self.prefix}:health:*", count=500):
            raw = client.get(key)
            if raw:
                try:
                    beats.append(msgpack.unpackb(raw, raw=False))
                except Exception:
                    continue
        streams: dict[str, Any] = {}
        for raw in client.scan_iter(match=f"{self.prefix}:*", count=1000, _type="stream"):
            key = raw.decode()
            groups = []
            try:
                for g in client.xinfo_groups(key):
                    groups.append({"name": g["name"].decode(), "lag": g.get("lag"), "pending": g["pending"]})
            except redis.ResponseError:
                pass
            streams[key] = {"length": client.xlen(key), "groups": groups}
        return {"t": time.time(), "beats": beats, "streams": streams}

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=2)
        while not self._stop.wait(self.interval):
            try:
                self.samples.append(self.sample(client))
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                self.samples.append({"t": time.time(), "redis": "down"})
        client.close()

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class ChartClient:
    """A real Socket.IO client watching one stream, keeping every candle it was sent.

    It connects with ``auth.resume`` naming its stream, so after the gateway comes back the
    reconnection restores the stream (and its history) just like the web app does.
    """

    def __init__(self, url: str, asset: str, timeframe: str) -> None:
        import socketio

        self.url = url
        self.asset = asset
        self.timeframe = timeframe
        self.events: list[tuple[float, str, Any]] = []
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1.0)
        for name in (
            "candle_update",
            "history",
            "connection_status",
            "stream_started",
            "stream_error",
            "backend_reconnected",
            "chrome_reconnected",
        ):
            self.sio.on(name, self._recorder(name))
        self.sio.on("connect", self._recorder("connect"))
        self.sio.on("disconnect", self._recorder("disconnect"))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            with self.lock:
                self.events.append((time.time(), name, args[0] if args else None))

        return record

    def connect(self) -> ChartClient:
        resume = {"streams": [{"asset": self.asset, "timeframe": self.timeframe}]}
        self.sio.connect(self.url, transports=["websocket"], auth={"resume": resume}, wait_timeout=10)
        return self

    def received(self) -> list[tuple[float, str, Any]]:
        with self.lock:
            return list(self.events)

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


class Stack:
    """Simulated broker + Chromium + ingest, candles, persistence, gateway on one Redis.

    ``env`` is the test's environment (QF_REDIS_URL, QF_PREFIX, QF_DATA_DIR); the settings
    here only pick free ports, the timeframes and the broker page.
    """

    SERVICES = ("ingest", "candles", "persistence", "gateway")

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        *,
        seed: int = 11,
        assets: int = 6,
        rate: float = 8.0,
        timeframes: str = "5s,15s",
        with_browser: bool = True,
        with_backtest: bool = False,
    ) -> None:
        self.workdir = workdir
        self.logdir = workdir / "logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(env["QF_DATA_DIR"])
        self.prefix = env["QF_PREFIX"]
        self.redis_url = env["QF_REDIS_URL"]
        self.timeframes = timeframes
        self.gateway_port = free_port()
        self.with_browser = with_browser
        self.sim = Sim(workdir, seed=seed, assets=assets, rate=rate) if with_browser else None
        self.chrome = Chrome(self.logdir, free_port()) if with_browser else None
        self.env = dict(env)
        self.env.update(
            {
                "QF_TIMEFRAMES": timeframes,
                "QF_GATEWAY_PORT": str(self.gateway_port),
                "QF_BROKER_UTC_OFFSET": "7200",
                "QF_HEARTBEAT_INTERVAL": "1",
                "QF_HEARTBEAT_TTL": "4",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.chrome is not None:
            self.env["QF_CHROME_URL"] = self.chrome.http_url
        self.procs: dict[str, Proc] = {}
        if with_backtest:
            self.backtest_port = free_port()
            self.env["QF_BACKTEST_PORT"] = str(self.backtest_port)
            self.env["QF_BACKTEST_URL"] = f"http://127.0.0.1:{self.backtest_port}"
            self.procs["backtest"] = python_service("backtest", "quantumflux.backtest", self.env, self.logdir)
        for name in self.SERVICES:
            if name == "ingest" and not with_browser:
                continue
            self.procs[name] = python_service(name, f"quantumflux.{name}", self.env, self.logdir)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> Stack:
        """Services first (ingest polls for Chrome), then the broker and Chromium."""
        if self.sim is not None:
            self.sim.start()
            self.env["QF_OPEN_URL"] = self.sim.page
        for proc in self.procs.values():
            proc.start()
        if self.chrome is not None:
            self.chrome.start()
        wait_until(self._gateway_healthy, 60, "the gateway's /health")
        return self

    def _gateway_healthy(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.gateway_url}/health", timeout=1.0) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=5)

    def stop(self) -> dict[str, int | None]:
        """Stop everything cleanly (SIGTERM), broker first so the last ticks can drain."""
        codes: dict[str, int | None] = {}
        if self.sim is not None:
            codes["sim"] = self.sim.proc.stop()
        if self.chrome is not None:
            self.chrome.close()
        for name, proc in reversed(list(self.procs.items())):
            codes[name] = proc.stop()
        return codes

    def outputs(self) -> str:
        parts = []
        for proc in [*self.procs.values(), *([self.sim.proc] if self.sim else [])]:
            parts.append(f"----- {proc.name}\n{proc.output()[-4000:]}")
        return "\n".join(parts)

    def http_get(self, path: str) -> str:
        """The body of a GET on the gateway ('' when it does not answer)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"{self.gateway_url}{path}", timeout=2.0) as resp:
                return str(resp.read().decode())
        except OSError:
            return ""
