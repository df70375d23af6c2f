"""The lifecycle checks of the fault run must catch what they claim: bad exit codes, a killed
instance still shown, a replacement that never reports itself."""

from __future__ import annotations

from typing import Any

from tests.system.lifecycle import exit_code_problems, lifecycle_problems, restart_problems

KILLED = 100.0


def sample(t: float, *instances: str) -> dict[str, Any]:
    return {"t": t, "beats": [{"service": "candles", "instance": i} for i in instances]}


def test_a_clean_stop_must_exit_zero() -> None:
    assert exit_code_problems({"gateway": 0, "candles": 0}, ["gateway", "candles"]) == []
    problems = exit_code_problems(
        {"gateway": -9, "candles": 1, "ingest": None}, ["gateway", "candles", "persistence"]
    )
    text = "\n".join(problems)
    assert "gateway had to be killed by signal 9" in text
    assert "candles exited with code 1" in text
    assert "ingest was never started" in text
    assert "persistence was never stopped" in text


def test_a_replaced_instance_passes() -> None:
    samples = [sample(99, "h-1"), sample(101, "h-1"), sample(102, "h-1", "h-2"), {"t": 103, "redis": "down"}]
    samples.append(sample(105, "h-2"))
    assert restart_problems("candles", "h-1", "h-2", KILLED, samples) == []


def test_a_killed_instance_still_shown_is_a_problem() -> None:
    samples = [sample(101, "h-1", "h-2"), sample(110, "h-1", "h-2")]
    assert restart_problems("candles", "h-1", "h-2", KILLED, samples) == [
        "candles: the killed instance h-1 was still shown as running at the end"
    ]


def test_a_killed_instance_coming_back_is_a_problem() -> None:
    samples = [sample(101, "h-2"), sample(102, "h-1", "h-2")]
    assert restart_problems("candles", "h-1", "h-2", KILLED, samples) == [
        "candles: the killed instance h-1 was shown as running again after it had gone"
    ]


def test_a_replacement_that_never_reports_is_a_problem() -> None:
    samples = [sample(99, "h-1"), sample(101), sample(110)]
    fault = {"service": "candles", "old": "h-1", "new": "h-2", "start": KILLED}
    problems = lifecycle_problems({"candles": 0}, ["candles"], [fault, {"fault": "Redis killed"}], samples)
    assert problems == ["candles: the restarted instance h-2 never showed up in the status"]
