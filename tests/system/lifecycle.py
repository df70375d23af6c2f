"""What a user expects of the services' lives, checked from values (pure): a clean stop exits 0,
and a killed service disappears from the status and is replaced by a new instance that reports
itself there.

The status is what ``qf status`` and the web app read: the services' heartbeats, sampled while
the stack ran (``harness.Watcher``), each sample ``{"t": wall time, "beats": [heartbeat, …]}``
(or ``{"t", "redis": "down"}`` while Redis was away).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def exit_code_problems(codes: Mapping[str, int | None], expected: Iterable[str]) -> list[str]:
    """Every process stopped with SIGTERM ended by itself with exit code 0."""
    problems = [f"{name} was never stopped (no exit code)" for name in sorted(set(expected) - set(codes))]
    for name, code in sorted(codes.items()):
        if code is None:
            problems.append(f"{name} was never started")
        elif code < 0:
            problems.append(f"{name} had to be killed by signal {-code} instead of stopping on SIGTERM")
        elif code != 0:
            problems.append(f"{name} exited with code {code} on a clean stop, not 0")
    return problems


def _instances(sample: Mapping[str, Any], service: str) -> set[str] | None:
    if "beats" not in sample:
        return None  # Redis was down: the status knew nothing either way
    return {str(b.get("instance")) for b in sample["beats"] if b.get("service") == service}


def restart_problems(
    service: str, old: str, new: str, killed_at: float, samples: Iterable[Mapping[str, Any]]
) -> list[str]:
    """After ``old`` was killed at ``killed_at``: the status stops listing it (its heartbeat
    lapses) and never lists it again, and the new instance ``new`` appears there."""
    seen = [
        (s["t"], got) for s in samples if s["t"] > killed_at and (got := _instances(s, service)) is not None
    ]
    problems = []
    gone = next((t for t, got in seen if old not in got), None)
    if gone is None:
        problems.append(f"{service}: the killed instance {old} was still shown as running at the end")
    elif any(old in got for t, got in seen if t > gone):
        problems.append(f"{service}: the killed instance {old} was shown as running again after it had gone")
    if not any(new in got for _t, got in seen):
        problems.append(f"{service}: the restarted instance {new} never showed up in the status")
    return problems


def lifecycle_problems(
    codes: Mapping[str, int | None],
    expected: Iterable[str],
    faults: Iterable[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Exit codes of the clean stop, and every SIGKILLed service's replacement in the status."""
    problems = exit_code_problems(codes, expected)
    for f in faults:
        if f.get("service"):
            problems += restart_problems(f["service"], f["old"], f["new"], f["start"], samples)
    return problems
