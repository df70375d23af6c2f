"""Protocol drift: the broker's events compared with the shapes the decoder knows (pure: no I/O).

The broker changes its protocol without notice, and a change shows first as candles missing.
Every event the decoder is given is compared with :mod:`.known_shapes`; what differs (an
unknown event, a new or missing field, a changed kind or tuple length, a new framing) is a
*finding* with a stable key: the same change seen again is counted, not reported again. Each
finding keeps one sample of the drifted body with field names and kinds only, never a value, so
a drifted ``auth`` frame shows its fields and not the session.

The shell collects :meth:`DriftWatch.report` and publishes it; see docs/protocol.md.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

from quantumflux.ingest.decode.known_shapes import (
    BARE_BINARY,
    BINARY_EVENT,
    HARMLESS,
    RECEIVED_SHAPES,
    SENT_SHAPES,
    TEXT_EVENT,
)
from quantumflux.ingest.decode.shapes import Difference, compare, sample

SUGGESTION = (
    "The broker's protocol seems to have changed, and some data may be missing. "
    "Record a few minutes with `qf record FILE --share` and attach the file to a bug report."
)
# Distinct findings kept; past that, drift is still counted (``protocol_drift``) but not described.
MAX_FINDINGS = 50
MAX_NAME_LEN = 48
# A busy event (ticks, about 2/s per asset) is compared on its first frames, then one in
# CHECK_EVERY: a change is still found within seconds, and the tick path stays as fast.
FIRST_CHECKED = 100
CHECK_EVERY = 10
UNANNOUNCED = "(binary without header)"

FRAMING_WORDS = {
    TEXT_EVENT: "a 42 text event",
    BINARY_EVENT: "a 451- binary event",
    BARE_BINARY: "a binary frame without header",
}


@dataclass(slots=True)
class Finding:
    """One change in the broker's protocol, and how often it was seen."""

    key: str
    event: str
    direction: str
    framing: str
    kind: str
    path: str
    change: str
    shape: Any
    first_seen: float | None
    last_seen: float | None
    count: int = 1
    reported: bool = False

    def to_map(self) -> dict[str, Any]:
        """The finding as a report carries it (plain values, ready for the bus)."""
        return {
            "key": self.key,
            "event": self.event,
            "direction": self.direction,
            "framing": self.framing,
            "kind": self.kind,
            "path": self.path,
            "change": self.change,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "shape": self.shape,
            "suggestion": SUGGESTION,
        }


class DriftWatch:
    """The findings of one capture; fed by the decoder, read by :meth:`report`."""

    __slots__ = ("_counters", "_seen", "findings")

    def __init__(self, counters: collections.Counter[str]) -> None:
        self._counters = counters
        self._seen: collections.Counter[str] = collections.Counter()
        self.findings: dict[str, Finding] = {}

    def observe(self, direction: str, framing: str, name: str, body: Any, ts: Any) -> None:
        """Compare one event with its known shape; record what differs."""
        sent = direction == "sent"
        known = (SENT_SHAPES if sent else RECEIVED_SHAPES).get(name)
        if known is None:
            # An echo of an event known the other way round is no news either.
            if name not in HARMLESS and name not in (RECEIVED_SHAPES if sent else SENT_SHAPES):
                self._record(direction, framing, name, body, ts, Difference("unknown_event", "event"))
            return
        if known.busy:
            seen = self._seen[name] = self._seen[name] + 1
            if seen > FIRST_CHECKED and seen % CHECK_EVERY:
                return
        if framing not in known.framings:
            found = Difference("framing", "frame", framing, " or ".join(sorted(known.framings)))
            self._record(direction, framing, name, body, ts, found)
        diff = compare(body, known.shape)
        if diff is not None:
            self._record(direction, framing, name, body, ts, diff)

    def unannounced(self, body: Any, ts: Any) -> None:
        """A binary body with no header and no shape the decoder could guess."""
        self._record("recv", BARE_BINARY, UNANNOUNCED, body, ts, Difference("unknown_event", "event"))

    def report(self) -> list[dict[str, Any]]:
        """The findings not yet reported (each once), oldest first; marks them reported."""
        fresh = [f for f in self.findings.values() if not f.reported]
        for f in fresh:
            f.reported = True
        return [f.to_map() for f in fresh]

    def summary(self) -> list[dict[str, Any]]:
        """Every finding so far with its current count, reported or not."""
        return [f.to_map() for f in self.findings.values()]

    def _record(self, direction: str, framing: str, name: str, body: Any, ts: Any, diff: Difference) -> None:
        self._counters["protocol_drift"] += 1
        name = name[:MAX_NAME_LEN]
        key = " ".join(part for part in (direction, name, diff.kind, _where(diff)) if part)
        when = _time(ts)
        finding = self.findings.get(key)
        if finding is not None:
            finding.count += 1
            finding.last_seen = when
            return
        if len(self.findings) >= MAX_FINDINGS:
            return
        self.findings[key] = Finding(
            key=key,
            event=name,
            direction=direction,
            framing=framing,
            kind=diff.kind,
            path=diff.path,
            change=_change(direction, framing, name, diff),
            # Built once per finding: the first body that showed it, without its values.
            shape={"event": name, "framing": framing, "body": sample(body)},
            first_seen=when,
            last_seen=when,
        )


def protocol_report(findings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fields of the ``report`` event that tells the user about new findings (None: nothing new).

    The shell publishes it as ``Event("report", ts, protocol_report(dec.drift_report()))``.
    """
    if not findings:
        return None
    more = len(findings) - 1
    summary = "The broker's protocol changed: " + findings[0]["change"]
    if more:
        summary += f" (and {more} more change{'s' if more > 1 else ''})"
    return {
        "report": "protocol",
        "level": "warning",
        "summary": summary,
        "findings": findings,
        "suggestion": SUGGESTION,
    }


def _where(diff: Difference) -> str:
    # A field that became text and one that became null are two changes; two lengths too.
    if diff.kind in ("type", "length", "framing"):
        return f"{diff.path}:{diff.found}"
    return "" if diff.kind == "unknown_event" else diff.path


def _change(direction: str, framing: str, name: str, diff: Difference) -> str:
    way = "sent by the page" if direction == "sent" else "received"
    if name == UNANNOUNCED:
        return "a binary frame without header, of no shape the decoder knows"
    if diff.kind == "unknown_event":
        return f"unknown event {name!r} ({way}, {FRAMING_WORDS.get(framing, framing)})"
    if diff.kind == "framing":
        known = " or ".join(FRAMING_WORDS.get(f, f) for f in diff.known.split(" or "))
        return f"{name} came as {FRAMING_WORDS.get(framing, framing)}, known as {known}"
    return f"{name}: {diff.describe()}"


def _time(ts: Any) -> float | None:
    if (type(ts) is float or type(ts) is int) and math.isfinite(ts):
        return float(ts)
    return None
