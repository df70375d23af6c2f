"""End to end: headless Chromium on the simulated broker → CDP → ingest → the real Redis."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from quantumflux.bus.records import CaptureMark
from quantumflux.ingest.chrome import Chromium
from tests.ingest.stack import Bus, IngestProcess, SimProcess, by_asset, close_pages, pick_on_page, wait_until

pytestmark = pytest.mark.browser


def test_every_tick_the_broker_sent_is_in_redis_and_the_pick_arrives(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    sim = SimProcess(tmp_path, seed=11, assets=3, rate=10.0)
    bus = Bus(redis_url, prefix)
    # Ingest opens the broker page itself once attached, so the socket is seen from frame 0.
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        wait_until(lambda: bus.tick_count() >= 30, what="ticks in Redis")
        assets = sorted({t[0] for t in sim.ticks()})
        assert len(assets) == 3

        # The page's own first selection, then the user's pick on the page.
        wait_until(lambda: bus.events("platform_state"), what="the page's first selection")
        assert pick_on_page(chromium.http_url, sim.page, assets[1], 300) == f"{assets[1]}/300"
        wait_until(
            lambda: any(e.data.get("asset") == assets[1] and e.data.get("period") == 300
                        for e in bus.events("platform_state")),
            what="platform_state of the pick",
        )  # fmt: skip

        wait_until(lambda: len(sim.ticks()) >= 150, what="more ticks")
        truth = by_asset(sim.ticks())

        def caught_up() -> bool:
            got = bus.ticks()
            return all(len(got.get(a, [])) >= len(rows) for a, rows in truth.items())

        wait_until(caught_up, what="ingest to catch up with the simulator")
        got = bus.ticks()
        for asset, rows in truth.items():
            assert got[asset][: len(rows)] == rows  # exact asset, UTC time (ms) and price, in order
        # Each asset in its own partition (crc32 mod 4, computed here independently).
        for p in range(4):
            for rec in bus.records(p):
                if isinstance(rec, CaptureMark):
                    continue  # coverage marks go to every partition
                assert zlib.crc32(rec.asset.encode()) % 4 == p
        statuses = [e.data.get("state") for e in bus.events("chrome_status")]
        assert statuses[0] == "connected"
        assert bus.events("assets") and bus.events("history_loaded")
    finally:
        code = ingest.stop()
        close_pages(chromium.http_url, sim.page)
        sim.stop()
        bus.close()
    assert code == 0, ingest.output()
    assert [e.data.get("state") for e in Bus(redis_url, prefix).events("service_status")][-1] == "stopped"


@pytest.mark.slow
def test_qf_demo_runs_the_whole_path_without_an_account(
    test_env: dict[str, str], redis_url: str, prefix: str
) -> None:
    import signal
    import subprocess
    import sys

    from tests.ingest.stack import ROOT

    env = dict(test_env, QF_STOP_TIMEOUT="5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", "demo", "--assets", "2"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    bus = Bus(redis_url, prefix)
    try:
        wait_until(lambda: bus.tick_count() >= 6, guard=60, what="ticks from the demo")
        assert next(e.data.get("state") for e in bus.events("chrome_status")) == "connected"
        assert bus.events("platform_state")  # the page's selection, captured from its first frames
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        bus.close()
    text = out.decode(errors="replace")
    assert "Simulated broker: http://127.0.0.1:" in text
    assert proc.returncode == 0, text[-3000:]


def recorded_ticks(rec: Path, sent: dict[str, list[Any]]) -> bool:
    """Whether the recording so far holds at least the ticks ``sent`` of each asset."""
    from quantumflux.bus.records import Tick
    from quantumflux.ingest.decoder import Decoder
    from quantumflux.ingest.recording import read_recording

    if not rec.exists():
        return False
    dec = Decoder()
    got: dict[str, int] = {}
    for frame in read_recording(rec):
        for r in dec.feed(frame):
            if isinstance(r, Tick):
                got[r.asset] = got.get(r.asset, 0) + 1
    return all(got.get(asset, 0) >= len(rows) for asset, rows in sent.items())


def test_record_then_replay_gives_the_same_ticks(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys

    from tests.ingest.stack import ROOT

    sim = SimProcess(tmp_path, seed=3, assets=2, rate=5.0)
    rec = tmp_path / "capture.jsonl"
    env = dict(test_env, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", "record", str(rec)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_until(lambda: len(sim.ticks()) >= 40, what="ticks sent")
        before = by_asset(sim.ticks())
        wait_until(lambda: recorded_ticks(rec, before), what="the sent ticks in the recording")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        close_pages(chromium.http_url, sim.page)
        sim.stop()
    text = out.decode()
    lines = rec.read_text().splitlines()
    assert proc.returncode == 0, text
    assert f"Wrote {len(lines)} frames to {rec}" in text
    assert "sim-demo-session" not in rec.read_text()  # the page's auth session is redacted
    assert {json.loads(x)["dir"] for x in lines} == {"recv", "sent"}

    # Replaying the recording publishes exactly the ticks the simulator sent while recording.
    done = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "replay", str(rec), "--speed", "max"], cwd=ROOT, env=test_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    truth = by_asset(sim.ticks())
    bus = Bus(redis_url, prefix)
    try:
        got = bus.ticks()
    finally:
        bus.close()
    for asset, rows in truth.items():
        # exactly what the simulator sent, in order, at least up to the moment recording stopped
        assert got[asset] == rows[: len(got[asset])]
        assert len(got[asset]) >= len(before[asset])
    assert f"{sum(len(v) for v in got.values())} ticks" in done.stdout
