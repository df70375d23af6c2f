"""`qf demo`: the whole platform on a simulated broker, seen through a real headless Chromium.

Order matters so that no early frame is lost: the services start first (ingest keeps polling
for Chrome), then the simulated broker and a Chromium showing only ``about:blank``. Once ingest
has attached it opens the broker page itself (``QF_OPEN_URL``, a new tab created after
auto-attach), so the page's socket is captured from its first frame — and again if Chromium
is restarted.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path


def run_demo(*, seed: int = 1, assets: int = 4, embedded_redis: bool = False) -> int:
    """Start sim + Chromium + the stack (source cdp) and supervise until Ctrl-C; returns the exit code."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.ingest.chrome import ChromeNotFound, chrome_argv, find_chrome, free_port
    from quantumflux.qf.config import UpSettings
    from quantumflux.qf.stack import Child, StackError, main_error, run_up

    settings = settings_or_exit(UpSettings, "qf", {"embedded_redis": embedded_redis or None})
    try:
        binary = find_chrome()
    except ChromeNotFound as exc:
        return main_error(exc)
    if not 1 <= assets <= 50:
        return main_error(ValueError("--assets must be between 1 and 50"))

    sim_port, chrome_port = free_port(), free_port()
    work = Path(tempfile.mkdtemp(prefix="qf-demo-"))
    page = f"http://127.0.0.1:{sim_port}/"
    chrome_url = f"http://127.0.0.1:{chrome_port}"
    sim = Child(
        "sim",
        [
            sys.executable, "-m", "quantumflux.sim", "--port", str(sim_port),
            "--seed", str(seed), "--assets", str(assets),
        ],
    )  # fmt: skip
    chromium = Child("chromium", chrome_argv(binary, work / "profile", chrome_port, "about:blank"))
    banner = [
        f"Simulated broker: {page}  (shown in a headless Chromium; ingest captures it over CDP at {chrome_url})",
        "Pick an asset and timeframe in the web app; the simulated market ticks about twice a second per asset.",
    ]
    try:
        return run_up(
            settings,
            source="cdp",
            extra_children=[sim, chromium],
            extra_env={"QF_CHROME_URL": chrome_url, "QF_OPEN_URL": page},
            banner=banner,
        )
    except StackError as exc:
        return main_error(exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
