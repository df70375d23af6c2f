"""The wheel a user installs: built by scripts/build-wheel.sh, installed into a fresh environment
outside the repository, ``qf demo`` from there shows the live chart (served from the wheel itself)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.web.helpers import ROOT, Page, chrome_bin, probe_url

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with only the wheel installed; its ``bin`` folder."""
    where = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-wheel.sh"), str(where / "dist")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = Path(built.stdout.strip().splitlines()[-1])
    names = zipfile.ZipFile(wheel).namelist()
    assert "quantumflux/gateway/webapp/index.html" in names, "the wheel carries the built web app"
    assert "quantumflux/sim/static/index.html" in names
    assert not any(n.startswith("services/") for n in names), "nothing installs under the name `services`"
    subprocess.run([sys.executable, "-m", "venv", str(where / "venv")], check=True, timeout=120)
    bin_dir = where / "venv" / "bin"
    pip = subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True, timeout=900
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    return bin_dir


def test_the_wheel_installs_under_its_own_name(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import quantumflux, quantumflux.gateway; print(quantumflux.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(installed.parent), "imported from the environment"
    assert subprocess.run([str(installed / "qf"), "--help"], capture_output=True, timeout=120).returncode == 0


@pytest.fixture
def demo_url(installed: Path, test_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    if chrome_bin() is None:
        pytest.skip("Chromium is not installed")
    gw, bt = free_port(), free_port()
    env = {
        **test_env,
        "PATH": f"{installed}{os.pathsep}{os.environ.get('PATH', '')}",
        "QF_GATEWAY_PORT": str(gw),
        "QF_BACKTEST_PORT": str(bt),
        "QF_BACKTEST_URL": f"http://127.0.0.1:{bt}",
    }
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        # Run from a folder that is not the repository, as a user of the wheel would.
        proc = subprocess.Popen(
            [str(installed / "qf"), "demo"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{gw}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"qf demo stopped:\n{log.read_text(errors='replace')[-3000:]}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(
                f"the demo's gateway never answered:\n{log.read_text(errors='replace')[-3000:]}"
            )
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise


def test_qf_demo_from_the_wheel_shows_the_live_chart(demo_url: str, page: Page) -> None:
    index = httpx.get(demo_url, timeout=10).text
    assert re.search(r"<script[^>]+assets/main-", index), "the gateway serves the web app from the wheel"
    page.do("open", url=probe_url(demo_url))
    page.wait("connection-status", attr="data-state", equals="connected", timeout=60)
    page.wait("live-badge", attr="data-live", equals="true", timeout=90)
    deadline = time.monotonic() + 90
    while len(page.chart_candles() or []) < 2:  # what lightweight-charts itself holds
        assert time.monotonic() < deadline, "the chart never filled with candles"
        time.sleep(0.3)
