"""`qf up` as a user runs it: embedded Redis, restarts, clean stop with no process left behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest
import redis

from quantumflux.bus.config import known_setting_names
from tests.conftest import free_port


class Up:
    """A running `qf up` whose output is read line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.qf", "up", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        for line in self.seen:
            if m := rx.search(line):
                return m
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if m := rx.search(line):
                return m
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen[-40:]))

    def tree(self) -> set[int]:
        try:
            return {p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update(
        {
            "QF_LOCAL_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # as if nothing ran on 6379
            "QF_DATA_DIR": str(tmp_path / "data"),
            "QF_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        }
    )
    # Ports of the services that exist, so the test never collides with a running install.
    optional = {
        "QF_GATEWAY_PORT": str(free_port()),
        "QF_BACKTEST_PORT": str(free_port()),
        "QF_BACKTEST_URL": "",
        "QF_CHROME_URL": f"http://127.0.0.1:{free_port()}",  # no Chrome there
    }
    optional["QF_BACKTEST_URL"] = f"http://127.0.0.1:{optional['QF_BACKTEST_PORT']}"
    known = known_setting_names()
    env.update({k: v for k, v in optional.items() if k in known})
    return env


def _gone(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.slow
def test_up_runs_an_embedded_redis_restarts_a_killed_child_and_stops_everything(tmp_path):
    env = _env(tmp_path)
    up = Up(env)
    try:
        m = up.wait_for(r"runs its own at (redis://\S+)")
        url = m.group(1)
        up.wait_for("QuantumFlux is running")
        client = redis.Redis.from_url(url)
        assert client.ping()
        # Something is written, and a consumer group made, to check that a restart keeps them.
        client.xadd("keep:me", {"d": b"1"})
        client.xgroup_create("keep:me", "readers", id="0")

        pids = up.tree()
        server = next(p for p in psutil.Process(up.proc.pid).children() if "redis" in " ".join(p.cmdline()))
        server.kill()
        up.wait_for(r"redis +stopped unexpectedly .*restarting")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                time.sleep(0.2)
        assert client.ping()
        pids |= up.tree()
    finally:
        code = up.stop()
    assert code == 0
    assert _gone(pids) == set(), "processes left behind after Ctrl-C"

    # Start again on the same data folder: the stream entry and the group are still there.
    up2 = Up(env)
    try:
        url2 = up2.wait_for(r"runs its own at (redis://\S+)").group(1)
        up2.wait_for("QuantumFlux is running")
        client2 = redis.Redis.from_url(url2)
        assert client2.xlen("keep:me") == 1
        assert [g["name"] for g in client2.xinfo_groups("keep:me")] == [b"readers"]
        pids2 = up2.tree()
    finally:
        assert up2.stop() == 0
    assert _gone(pids2) == set()


def test_up_fails_fast_naming_an_unreachable_redis_url(tmp_path):
    env = _env(tmp_path)
    url = f"redis://127.0.0.1:{free_port()}/0"
    env["QF_REDIS_URL"] = url
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "up"], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert url in out.stderr and "does not answer" in out.stderr
    assert time.monotonic() - started < 15


def test_up_refuses_an_unknown_setting(tmp_path):
    env = _env(tmp_path)
    env["QF_PARTITONS"] = "8"
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "up"], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert "QF_PARTITONS" in out.stderr and "QF_PARTITIONS" in out.stderr
