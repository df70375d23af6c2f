"""`qf replay` and `qf ingest --source sim|replay:FILE` as a user runs them, against the real Redis."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.ingest.stack import ROOT, Bus, wait_until


def qf(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def ticks_of_recording(path: Path) -> dict[str, list[tuple[str, float, float]]]:
    """The ticks in a recording, decoded here independently (header, then base64 JSON body; UTC = -7200 s)."""
    out: dict[str, list[tuple[str, float, float]]] = {}
    pending = False
    for line in path.read_text().splitlines():
        f = json.loads(line)
        if f["dir"] != "recv":
            continue
        if f["opcode"] == 1:
            pending = f["payload"].startswith('451-["updateStream"')
        elif pending:
            for asset, t, price in json.loads(base64.b64decode(f["payload"])):
                out.setdefault(asset, []).append((asset, t - 7200, float(price)))
            pending = False
    return out


def test_replay_publishes_the_recordings_ticks(
    po_data: Path, test_env: dict[str, str], redis_url: str, prefix: str
) -> None:
    rec = po_data / "sample-recording.jsonl"
    done = qf("replay", str(rec), "--speed", "max", env=test_env)
    assert done.returncode == 0, done.stderr
    expected = ticks_of_recording(rec)
    n = sum(len(v) for v in expected.values())
    assert n > 100
    assert f"{n} ticks" in done.stdout
    bus = Bus(redis_url, prefix)
    try:
        assert bus.ticks() == expected
        picks = bus.events("platform_state")
        assert picks and picks[0].data["asset"] == "GBPUSD_otc" and picks[0].data["period"] == 60
        assert [e.data["state"] for e in bus.events("service_status")] == ["starting", "running", "stopped"]
    finally:
        bus.close()


def test_ingest_source_replay_paces_by_speed_and_stays_up(
    po_data: Path, test_env: dict[str, str], redis_url: str, prefix: str
) -> None:
    rec = po_data / "sample-recording.jsonl"
    expected = ticks_of_recording(rec)
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.ingest", "--source", f"replay:{rec}", "--speed", "1000"], cwd=ROOT,
        env=test_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    bus = Bus(redis_url, prefix)
    try:
        wait_until(lambda: bus.ticks() == expected, what="the recording's ticks")
        # As a service it stays up after the replay (a launcher would otherwise restart and repeat it).
        wait_until(lambda: any("finished" in e.data.get("message", "") for e in bus.events("service_status")))
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        bus.close()
    assert proc.returncode == 0, out.decode()


def test_bad_input_gets_a_clear_error(tmp_path: Path, test_env: dict[str, str]) -> None:
    missing = qf("replay", str(tmp_path / "nope.jsonl"), env=test_env)
    assert missing.returncode == 2 and "no recording at" in missing.stderr
    rec = tmp_path / "r.jsonl"
    rec.write_text("")
    bad_speed = qf("replay", str(rec), "--speed", "fast", env=test_env)
    assert bad_speed.returncode == 2 and "speed must be" in bad_speed.stderr
    typo = qf("ingest", env=dict(test_env, QF_CHROM_URL="http://127.0.0.1:9222"))
    assert typo.returncode == 2 and "QF_CHROM_URL" in typo.stderr and "QF_CHROME_URL" in typo.stderr


def test_a_recording_with_broken_lines_is_replayed_without_them(
    po_data: Path, tmp_path: Path, test_env: dict[str, str], redis_url: str, prefix: str
) -> None:
    lines = (po_data / "sample-recording.jsonl").read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:50], "{not json", '{"ts": "x"}', *lines[50:]]) + "\n")
    done = qf("replay", str(broken), env=test_env)
    assert done.returncode == 0, done.stderr
    bus = Bus(redis_url, prefix)
    try:
        assert bus.ticks() == ticks_of_recording(po_data / "sample-recording.jsonl")
    finally:
        bus.close()


def test_source_sim_runs_without_a_browser(test_env: dict[str, str], redis_url: str, prefix: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", "ingest", "--source", "sim"], cwd=ROOT, env=test_env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    bus = Bus(redis_url, prefix)
    try:
        wait_until(lambda: bus.tick_count() >= 5, what="simulated ticks")
        assert bus.events("platform_state") and bus.events("assets") and bus.events("history_loaded")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        bus.close()
    assert proc.returncode == 0, out.decode()
