"""Candles that did not see their whole interval say so: the simulated broker in real Chromium.

Ingest captures the broker page from a headless Chromium, the candle service builds 5 s and 15 s
bars. Chromium is killed and started again, then ingest is. Checked against what the broker
really sent (its truth file) with the audit's own aggregation, not the candle service's code:

- every bar that says it is complete equals the broker's candle exactly;
- every bar whose interval overlaps an outage, or began before capture ever ran, says it is not;
- bars well inside the stretches where capture ran say they are complete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tests.system.audit import aggregate, bar_from_map, same_bar
from tests.system.harness import Chrome, Sim, free_port, python_service, wait_until

TFS = (5, 15)
# Capture marks are a second apart: a bar ending within this of an outage may go either way.
EDGE = 1.5

pytestmark = pytest.mark.slow


def bars(client: Any, prefix: str) -> list[dict[str, Any]]:
    out = []
    for tf in TFS:
        out += [msgpack.unpackb(f[b"d"], raw=False) for _i, f in client.xrange(f"{prefix}:bars:{tf}")]
    return out


def first_tick_after(client: Any, prefix: str, t: float) -> float | None:
    """The quote time of the first tick published after wall time ``t`` (any partition)."""
    found = []
    for p in range(4):
        for _i, f in client.xrange(f"{prefix}:ticks:{{{p}}}", min=f"{int(t * 1000)}-0"):
            d = msgpack.unpackb(f[b"d"], raw=False)
            if d.get("kind") == "tick":
                found.append(d["ts"])
                break
    return min(found) if found else None


def complete_bar_after(client: Any, prefix: str, t: float, tf: int = 5) -> bool:
    return any(b["complete"] and b["tf"] == tf and b["time"] >= t for b in bars(client, prefix))


def test_bars_across_chrome_and_ingest_restarts_say_whether_they_saw_their_whole_interval(
    test_env: dict[str, str], tmp_path: Path, rclient: Any
) -> None:
    prefix = test_env["QF_PREFIX"]
    logs = tmp_path / "logs"
    logs.mkdir()
    sim = Sim(tmp_path, seed=5, assets=3, rate=6.0).start()
    chrome = Chrome(logs, free_port())
    env = dict(test_env)
    env.update(
        QF_TIMEFRAMES="5s,15s",
        QF_CLOSE_GRACE="1",
        QF_BROKER_UTC_OFFSET="7200",
        QF_CHROME_URL=chrome.http_url,
        QF_OPEN_URL=sim.page,
        PYTHONUNBUFFERED="1",
    )
    ingest = python_service("ingest", "quantumflux.ingest", env, logs)
    candles = python_service("candles", "quantumflux.candles", env, logs)
    outages: list[tuple[float, float]] = []
    try:
        candles.start()
        started = time.time()
        ingest.start()
        chrome.start()
        wait_until(lambda: complete_bar_after(rclient, prefix, 0, tf=15), 90, "a complete 15 s bar")

        # Chromium dies; the candle it was in closes on the clock while it is away.
        killed = chrome.kill()
        wait_until(
            lambda: any(b["time"] + b["tf"] > killed for b in bars(rclient, prefix)),
            30,
            "a bar closed by the clock",
        )
        chrome.start()
        back = wait_until(lambda: first_tick_after(rclient, prefix, killed + 0.5), 60, "ticks after Chromium")
        outages.append((killed, back))
        wait_until(
            lambda: complete_bar_after(rclient, prefix, back, tf=15), 90, "complete bars after Chromium"
        )

        # Ingest dies and is started again; Chromium keeps the page open meanwhile.
        killed = ingest.kill()
        ingest.start()
        back = wait_until(lambda: first_tick_after(rclient, prefix, killed + 0.5), 60, "ticks after ingest")
        outages.append((killed, back))
        wait_until(lambda: complete_bar_after(rclient, prefix, back, tf=15), 90, "complete bars after ingest")
    finally:
        ended = time.time()
        sim.proc.stop()
        chrome.close()
        codes = {p.name: p.stop() for p in (ingest, candles)}
    logs_text = "\n".join(p.output()[-3000:] for p in (ingest, candles))
    assert codes == {"ingest": 0, "candles": 0}, logs_text

    got = bars(rclient, prefix)
    truth = {tf: aggregate(sim.ticks(), tf) for tf in TFS}
    first = first_tick_after(rclient, prefix, started)
    assert first is not None
    runs = _runs(first, outages, ended)
    problems = []
    seen_ok = 0
    for b in got:
        bar = bar_from_map(b)
        t, tf = b["time"], b["tf"]
        overlaps = t < started or any(t < end and t + tf > start for start, end in outages)
        if b["complete"]:
            seen_ok += 1
            want = truth[tf].get((b["asset"], t))
            if want is None or not same_bar(bar, want):
                problems.append(f"complete but not the broker's candle: {bar} != {want}")
            if overlaps:
                problems.append(f"complete though capture broke off in it: {bar}")
        elif any(s + 1.0 <= t and t + tf <= e - EDGE for s, e in runs):
            problems.append(f"incomplete though capture ran throughout: {bar}")
    assert not problems, "\n".join(problems[:20]) + f"\nruns {runs}\n" + logs_text
    # The run holds both kinds: the first bars of each timeframe, and those of each outage, are
    # incomplete; and many bars are whole.
    broken = [b for b in got if not b["complete"]]
    for tf in TFS:
        assert any(b["tf"] == tf and b["time"] < first for b in broken), f"no incomplete first {tf} s bar"
        for start, end in outages:
            assert any(b["tf"] == tf and b["time"] < end and b["time"] + tf > start for b in broken), (
                f"no incomplete {tf} s bar for the outage {start}..{end}"
            )
    assert seen_ok >= 10, seen_ok


def _runs(first: float, outages: list[tuple[float, float]], ended: float) -> list[tuple[float, float]]:
    """The stretches capture ran: from the first tick to each outage, then between them."""
    runs = []
    begin = first
    for down, back in outages:
        runs.append((begin, down))
        begin = back
    runs.append((begin, ended))
    return runs
