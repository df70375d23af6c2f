"""The simulated broker's page in headless Chromium: the Call button places a deal that settles."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket  # websocket-client: a plain DevTools client is enough to click a button

from quantumflux.ingest.chrome import ChromeNotFound, chrome_argv, find_chrome
from tests.sim.test_server import start_sim


def devtools_page(user_data_dir: Path, deadline: float) -> str:
    """The DevTools WebSocket address of the browser's first page."""
    active = user_data_dir / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if active.exists() and active.read_text().strip():
            port = int(active.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.2)
    raise AssertionError("Chromium never opened its DevTools port")


class Page:
    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10, suppress_origin=True)
        self.n = 0

    def eval(self, expression: str) -> Any:
        self.n += 1
        self.ws.send(
            json.dumps({"id": self.n, "method": "Runtime.evaluate", "params": {"expression": expression}})
        )
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                return msg["result"]["result"].get("value")


@pytest.mark.browser
def test_clicking_call_opens_a_deal_that_closes_at_expiry(tmp_path: Path) -> None:
    try:
        chromium = find_chrome()
    except ChromeNotFound:
        pytest.skip("no Chromium on this machine")
    sim = start_sim(tmp_path, "--assets", "2", "--seed", "3", "--rate", "4")
    lines: list[str] = []
    assert sim.proc.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(sim.proc.stderr.readline, "")), daemon=True)
    reader.start()
    profile = tmp_path / "chrome"
    browser = subprocess.Popen(
        chrome_argv(chromium, profile, 0, sim.url),  # port 0: Chromium picks one, on loopback only
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        page = Page(devtools_page(profile, deadline))
        # until the page has loaded, connected and shown a price (the first target may be blank)
        price = None
        while time.monotonic() < deadline and not (price and price[0].isdigit()):
            time.sleep(0.2)
            price = page.eval("(document.getElementById('price') || {}).textContent")
        # a 5-second timeframe: the deal expires after 5 s
        page.eval(
            "const tf = document.querySelector('[data-testid=sim-timeframe]'); tf.value = '5';"
            "tf.dispatchEvent(new Event('change'));"
            "document.querySelector('[data-testid=sim-amount]').value = '3';"
            "document.querySelector('[data-testid=sim-call]').click();"
        )
        shown = ""
        while time.monotonic() < deadline and not shown.startswith("closed:"):
            time.sleep(0.3)
            shown = page.eval("document.querySelector('[data-testid=sim-deal]').textContent") or ""
        balance = page.eval("document.querySelector('[data-testid=sim-balance]').textContent")
        page.ws.close()
    finally:
        browser.kill()
        browser.wait(timeout=30)
        sim.stop()
        reader.join(timeout=10)
    assert any("the page opened a call on EURUSD_otc for 3.0 (5 s)" in x for x in lines), lines
    assert shown.startswith("closed: call EURUSD_otc 3 at "), shown
    # won, lost or tied, the balance moved by what the page shows
    if "won +" in shown:
        expect = 10000 + float(shown.rsplit("+", 1)[1])
    elif "lost " in shown:
        expect = 10000 - 3
    else:
        expect = 10000
    assert float(balance) == pytest.approx(expect)
