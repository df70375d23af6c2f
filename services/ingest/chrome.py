"""Find and start a headless Chromium with remote debugging on loopback (for `qf demo` and tests).

The debugging port is only ever bound to 127.0.0.1: whoever reaches it controls the browser.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

DEFAULT_BIN = "/usr/bin/chromium"
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class ChromeNotFound(RuntimeError):
    """No Chromium or Chrome binary to start."""


def find_chrome() -> str:
    """The browser binary: ``QF_CHROME_BIN``, else Debian's chromium, else one on the PATH."""
    env = os.environ.get("QF_CHROME_BIN")
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise ChromeNotFound(f"QF_CHROME_BIN={env} is not a program that can be run")
        return env
    if Path(DEFAULT_BIN).is_file():
        return DEFAULT_BIN
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ChromeNotFound(
        "no Chromium found: install the 'chromium' package or set QF_CHROME_BIN to a Chrome binary"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chrome_argv(binary: str, user_data_dir: Path, port: int, url: str = "about:blank") -> list[str]:
    """The command line of a headless Chromium debuggable on 127.0.0.1:``port`` (0: Chrome picks)."""
    return [
        binary,
        *HEADLESS_FLAGS,
        "--log-level=3",  # only fatal errors: headless without D-Bus logs many harmless ones
        "--remote-debugging-address=127.0.0.1",
        f"--remote-debugging-port={port}",
        f"--user-data-dir={user_data_dir}",
        url,
    ]


def wait_for_devtools(http_url: str, timeout: float = 20.0) -> dict[str, object]:
    """Block until ``http_url/json/version`` answers; returns its JSON."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{http_url}/json/version", timeout=1.0) as resp:
                info = json.loads(resp.read())
                if isinstance(info, dict):
                    return info
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"Chromium did not open its debugging port at {http_url}: {last}")


class Chromium:
    """One headless Chromium started by us; :meth:`close` kills it (and only it) and cleans up."""

    def __init__(
        self,
        *,
        port: int = 0,
        url: str = "about:blank",
        user_data_dir: Path | None = None,
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_chrome()
        self._own_dir = user_data_dir is None
        self.user_data_dir = Path(user_data_dir or tempfile.mkdtemp(prefix="qf-chromium-"))
        self.requested_port = port
        self.url = url
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def http_url(self) -> str:
        """The debugging address, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The browser process id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> Chromium:
        """Start the browser and wait until its debugging port answers."""
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        active = self.user_data_dir / "DevToolsActivePort"
        active.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            chrome_argv(self.binary, self.user_data_dir, self.requested_port, self.url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its renderers share our new group, so close() reaches them all
        )
        deadline = time.monotonic() + timeout
        self.port = self.requested_port
        while not self.port:
            # With port 0 Chrome picks a free one and writes it to DevToolsActivePort.
            try:
                first = active.read_text().split("\n", 1)[0].strip()
                if first:
                    self.port = int(first)
                    break
            except (OSError, ValueError):
                pass
            self._check_alive(deadline)
            time.sleep(0.05)
        while True:
            try:
                wait_for_devtools(self.http_url, timeout=0.5)
                break
            except TimeoutError:
                self._check_alive(deadline)
        return self

    def _check_alive(self, deadline: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"Chromium exited at start (code {self.proc.returncode})")
        if time.monotonic() > deadline:
            self.close()
            raise TimeoutError("Chromium did not open its debugging port")

    def kill(self) -> None:
        """Kill the browser process hard (what a crash looks like); its children exit by themselves."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        """Stop the browser (politely, then hard), everything in its process group, and remove a temporary profile."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()  # lets the browser reap its own helper processes
                try:
                    self.proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._own_dir:
            shutil.rmtree(self.user_data_dir, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()
