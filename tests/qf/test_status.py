"""`qf status` on the real Redis: what it says about a change in the broker's protocol."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Event, pack
from quantumflux.ingest.decode import protocol_report

ROOT = Path(__file__).resolve().parents[2]


def status(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "status", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def finding(event: str) -> dict[str, object]:
    return {"key": f"recv {event} unknown_event", "event": event, "change": f"unknown event {event!r}"}


def test_status_shows_the_latest_protocol_report(
    test_env: dict[str, str], rclient: redis.Redis, prefix: str
) -> None:
    keys = Keys(prefix)
    quiet = json.loads(status(test_env, "--json").stdout)
    assert quiet["protocol"] is None  # nothing reported, nothing shown

    for event in ("firstNews", "secondNews"):
        data = protocol_report([finding(event)])
        assert data is not None
        rclient.xadd(keys.events(), {"d": pack(Event("report", time.time(), data))})
        # Other events after it do not hide it.
        rclient.xadd(keys.events(), {"d": pack(Event("chrome_status", time.time(), {"state": "connected"}))})

    shown = json.loads(status(test_env, "--json").stdout)["protocol"]
    assert "secondNews" in shown["summary"] and "qf record" in shown["suggestion"]
    assert shown["findings"][0]["event"] == "secondNews"

    text = status(test_env).stdout
    assert "Protocol: The broker's protocol changed: unknown event 'secondNews'" in text
    assert "qf record FILE --share" in text
