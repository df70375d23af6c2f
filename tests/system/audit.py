"""The audit of a fault run: what the broker sent against what the platform kept (pure).

Everything here takes values and returns values: the test reads the truth file, the CSV files,
the streams, the Socket.IO client's log and the events, and hands them in. The candle check
uses its own small aggregation written here, independent of the candle service's code.

A problem is a line of plain text; an audit passes when it finds none. The report lists what
was checked and every window in which ticks were allowed to be missing, with its cause.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# (asset, ts, price): a tick as the broker sent it or as it was found on disk, UTC seconds.
TickRow = tuple[str, float, float]
# (asset, tf, time, open, high, low, close, ticks)
Bar = tuple[str, int, int, float, float, float, float, int]

TICK_FILE = re.compile(r"(?P<asset>.+)_ticks_(?P<session>\d{8}T\d{6}Z)_(?P<chunk>\d{4,})\.csv")
CANDLE_FILE = re.compile(r"(?P<asset>.+)_(?P<tf>\d+[SMHD])_(?P<session>\d{8}T\d{6}Z)_(?P<chunk>\d{4,})\.csv")
TF_UNIT = {"S": 1, "M": 60, "H": 3600, "D": 86400}


@dataclass(frozen=True)
class Window:
    """A stretch of time in which ticks may be missing, and why (``chrome down``, ``ingest down``)."""

    start: float
    end: float
    cause: str

    def holds(self, ts: float) -> bool:
        return self.start <= ts <= self.end


@dataclass
class Section:
    """One part of the audit: what was counted and what went wrong."""

    title: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)  # when each problem happened, if known

    def problem(self, text: str, at: float | None = None) -> None:
        """Note a problem that happened at wall time ``at`` (None: no single time)."""
        self.problems.append(text)
        self.times.append(at)


@dataclass
class Report:
    """The whole audit; ``ok`` when no section found a problem."""

    sections: list[Section] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{s.title}: {p}" for s in self.sections for p in s.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        out = []
        for s in self.sections:
            out.append(f"== {s.title}: {'ok' if not s.problems else f'{len(s.problems)} problem(s)'}")
            out += [f"   {line}" for line in s.lines]
            out += [f"   PROBLEM {p}" for p in s.problems[:40]]
            if len(s.problems) > 40:
                out.append(f"   … and {len(s.problems) - 40} more problems")
        out.append("AUDIT " + ("PASSED" if self.ok else f"FAILED with {len(self.problems)} problem(s)"))
        return "\n".join(out)


# ---------------------------------------------------------------- reading the public formats


def parse_time(text: str) -> float:
    """An ISO 8601 UTC time with a ``Z`` (DESIGN §4) as epoch seconds."""
    text = text.strip()
    if not text.endswith("Z"):
        raise ValueError(f"time {text!r} does not end with Z")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC).timestamp()


def tf_seconds(file_label: str) -> int:
    """``5S`` → 5, ``1M`` → 60, ``4H`` → 14400."""
    return int(file_label[:-1]) * TF_UNIT[file_label[-1]]


def tick_rows(name: str, text: str) -> list[TickRow]:
    """The ticks of one tick file (its name carries the asset)."""
    m = TICK_FILE.fullmatch(name)
    if m is None:
        raise ValueError(f"{name} is not a tick file name")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != ["timestamp", "price"]:
        raise ValueError(f"{name} has no tick header")
    return [(m["asset"], parse_time(r[0]), float(r[1])) for r in rows[1:] if r]


CANDLE_HEADER = ["timestamp", "open", "high", "low", "close", "ticks"]


def candle_rows(name: str, text: str) -> list[Bar]:
    """The candles of one candle file (its name carries the asset and timeframe)."""
    m = CANDLE_FILE.fullmatch(name)
    if m is None:
        raise ValueError(f"{name} is not a candle file name")
    tf = tf_seconds(m["tf"])
    rows = list(csv.reader(io.StringIO(text)))
    # DESIGN §4: the six columns, and in newer files the broker's volume and `complete` after them.
    if not rows or rows[0] not in (CANDLE_HEADER, [*CANDLE_HEADER, "volume", "complete"]):
        raise ValueError(f"{name} has no candle header")
    return [
        (
            m["asset"],
            tf,
            round(parse_time(r[0])),
            float(r[1]),
            float(r[2]),
            float(r[3]),
            float(r[4]),
            int(r[5]),
        )
        for r in rows[1:]
        if r
    ]


def bar_from_map(d: Mapping[str, Any]) -> Bar:
    """A candle record of the bus (``qf:bars:*``) or a Socket.IO candle payload as a :data:`Bar`."""
    tf = d["tf"] if "tf" in d else tf_seconds(str(d["timeframe"]).upper())
    return (
        str(d["asset"]),
        int(tf),
        int(d["time"]),
        float(d["open"]),
        float(d["high"]),
        float(d["low"]),
        float(d["close"]),
        int(d["ticks"]),
    )


# ---------------------------------------------------------------- the independent candle fold

# What ingest published, in stream order: ("tick", asset, ts, price) or
# ("history", asset, ((ts, price), …), arrival) with ``arrival`` the wall time it reached the stream.
Published = tuple[Any, ...]
GRACE = 2.0  # QF_CLOSE_GRACE's default: a quiet asset's candle closes this long after its end
AMBIGUOUS = 0.75  # history this close to a candle's closing time may land on either side


def aggregate(ticks: Iterable[TickRow], tf: int) -> dict[tuple[str, int], Bar]:
    """OHLC candles of ``tf`` seconds from ticks in time order: bucket = floor(ts / tf) × tf."""
    return fold_published([("tick", a, ts, p) for a, ts, p in sorted(ticks, key=lambda t: (t[0], t[1]))], tf)[
        0
    ]


def fold_published(
    entries: Iterable[Published], tf: int, *, grace: float = GRACE, lean: float = 0.0
) -> tuple[dict[tuple[str, int], Bar], int]:
    """Candles the contract (DESIGN §3) promises from what ingest published, in publishing order.

    Every live tick counts in bucket floor(ts / tf) × tf of its own time, unless a tick of a later
    bucket of the same asset came before it (then it is late and left out). The broker's history
    fills in: its ticks count like live ones when they are newer than every tick seen for the
    asset, except in a candle that had closed on the wall clock before the history arrived (a
    quiet asset's candle closes ``grace`` seconds after its end). ``lean`` moves that closing time, so a caller can fold
    both ways the ambiguous cases (history arriving right at the closing time).
    Returns the candles and the number of late ticks.
    """
    cur: dict[str, list[Any]] = {}  # asset → [bucket, open, high, low, close, n]
    done: dict[tuple[str, int], Bar] = {}
    newest: dict[str, float] = {}
    late = 0

    def close(asset: str) -> None:
        c = cur.pop(asset, None)
        if c is not None:
            done[(asset, c[0])] = (asset, tf, c[0], c[1], c[2], c[3], c[4], c[5])

    def one(asset: str, ts: float, price: float) -> None:
        nonlocal late
        c = cur.get(asset)
        b = int(math.floor(ts / tf) * tf)
        newest[asset] = max(newest.get(asset, ts), ts)
        if (asset, b) in done:
            late += 1
        elif c is None or b > c[0]:
            close(asset)
            cur[asset] = [b, price, price, price, price, 1]
        elif b == c[0]:
            c[2] = max(c[2], price)
            c[3] = min(c[3], price)
            c[4] = price
            c[5] += 1
        else:
            late += 1

    for e in entries:
        if e[0] == "tick":
            one(e[1], float(e[2]), float(e[3]))
        elif e[0] == "history":
            c = cur.get(e[1])
            if len(e) > 3 and c is not None and float(e[3]) > c[0] + tf + grace + lean:
                close(e[1])  # it closed on the wall clock before this history arrived
            seen = newest.get(e[1], float("-inf"))
            for ts, price in sorted(e[2]):
                if ts > seen:
                    one(e[1], float(ts), float(price))
    for asset in list(cur):
        close(asset)
    return done, late


def same_bar(a: Bar, b: Bar, tol: float = 1e-9) -> bool:
    """Equal key and count, and prices equal to ``tol``."""
    return (
        a[:3] == b[:3]
        and a[7] == b[7]
        and all(abs(x - y) <= tol for x, y in zip(a[3:7], b[3:7], strict=True))
    )


def _key(t: TickRow) -> tuple[str, int, float]:
    return (t[0], round(t[1] * 1000), round(t[2], 6))


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S.%f")[:-3]


# ---------------------------------------------------------------- the checks


def audit_ticks(truth: Sequence[TickRow], captured: Sequence[TickRow], windows: Sequence[Window]) -> Section:
    """Every tick sent is on disk exactly once, except those sent inside an allowed window."""
    s = Section("ticks in CSV files")
    sent = Counter(_key(t) for t in truth)
    kept = Counter(_key(t) for t in captured)
    s.lines.append(f"{len(truth)} ticks sent by the broker, {len(captured)} tick rows on disk")
    doubled = [k for k, n in kept.items() if n > 1]
    for k in doubled[:20]:
        s.problem(f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} is on disk {kept[k]} times", k[1] / 1000)
    if len(doubled) > 20:
        s.problem(f"{len(doubled)} ticks are on disk more than once")
    invented = [k for k in kept if k not in sent]
    for k in invented[:10]:
        s.problem(
            f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} is on disk but the broker never sent it", k[1] / 1000
        )
    missing_in: Counter[int] = Counter()
    lost = []
    for k in sent:
        if k in kept:
            continue
        ts = k[1] / 1000
        idx = next((i for i, w in enumerate(windows) if w.holds(ts)), None)
        if idx is None:
            lost.append(k)
        else:
            missing_in[idx] += 1
    s.lines.append("windows in which ticks may be missing (nobody could capture them):")
    for i, w in enumerate(windows):
        s.lines.append(
            f"  {_fmt(w.start)} → {_fmt(w.end)} ({w.end - w.start:.1f} s, {w.cause}): {missing_in[i]} ticks missing"
        )
    if not windows:
        s.lines.append("  none")
    for k in sorted(lost, key=lambda k: k[1])[:20]:
        s.problem(
            f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} was sent outside any window and is not on disk",
            k[1] / 1000,
        )
    if len(lost) > 20:
        s.problem(f"{len(lost)} ticks sent outside the windows are not on disk")
    s.lines.append(
        f"{sum(missing_in.values())} ticks missing inside the windows, {len(lost)} outside, "
        f"{len(doubled)} doubled, {len(invented)} invented"
    )
    return s


def audit_bars(
    where: str,
    bars: Sequence[Bar],
    published: Sequence[Published],
    tf: int,
    *,
    settled_before: float,
) -> Section:
    """Closed candles of one timeframe are there exactly once and equal the independent fold.

    The fold (:func:`fold_published`) takes what ingest published, live ticks and the broker's
    history, in order. Every bucket of the fold that ended before ``settled_before`` must be there;
    none may be there that the fold does not have.
    """
    s = Section(f"closed {tf}s candles in {where}")
    expected, late = fold_published(published, tf)
    # History that reached the stream right at a candle's closing time may land on either side.
    early, _ = fold_published(published, tf, lean=-AMBIGUOUS)
    tardy, _ = fold_published(published, tf, lean=AMBIGUOUS)
    seen = Counter((b[0], b[2]) for b in bars)
    doubled = [k for k, n in seen.items() if n > 1]
    for k in doubled[:20]:
        s.problem(f"{k[0]} {_fmt(k[1])} is there {seen[k]} times", k[1] + tf)
    matched = 0
    for bar in bars:
        key = (bar[0], bar[2])
        want = expected.get(key)
        for other in (early.get(key), tardy.get(key)):
            if want is not None and other is not None and same_bar(bar, other):
                want = other
        if want is None:
            s.problem(
                f"{bar[0]} {_fmt(bar[2])} exists but no tick was published for that bucket: {bar}",
                bar[2] + tf,
            )
        elif same_bar(bar, want):
            matched += 1
        else:
            s.problem(
                f"{bar[0]} {_fmt(bar[2])} is {bar[3:]} but the published ticks give {want[3:]}", bar[2] + tf
            )
    absent = [k for k in expected if k not in seen and k[1] + tf <= settled_before]
    for k in sorted(absent)[:20]:
        s.problem(f"{k[0]} {_fmt(k[1])} is missing ({expected[k][7]} ticks were published in it)", k[1] + tf)
    if len(absent) > 20:
        s.problem(f"{len(absent)} closed candles are missing")
    s.lines.append(
        f"{len(bars)} candles, {len(expected)} in the independent fold ({late} late ticks left out): "
        f"{matched} equal, {len(doubled)} doubled, {len(absent)} missing"
    )
    return s


def audit_stream_ticks(published: Sequence[Published], captured: Sequence[TickRow]) -> Section:
    """The live ticks in the tick streams are the tick rows on disk: each once, none more, none less."""
    s = Section("ticks in qf:ticks:* and in the CSV files")
    live = Counter(_key((e[1], float(e[2]), float(e[3]))) for e in published if e[0] == "tick")
    kept = Counter(_key(t) for t in captured)
    doubled = [k for k, n in live.items() if n > 1]
    for k in doubled[:10]:
        s.problem(f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} is in the stream {live[k]} times", k[1] / 1000)
    for k in sorted(set(live) - set(kept))[:10]:
        s.problem(f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} is in the stream but not on disk", k[1] / 1000)
    for k in sorted(set(kept) - set(live))[:10]:
        s.problem(f"tick {k[0]} {_fmt(k[1] / 1000)} {k[2]} is on disk but not in the stream", k[1] / 1000)
    histories = sum(1 for e in published if e[0] == "history")
    s.lines.append(
        f"{sum(live.values())} live ticks and {histories} history batches in the streams, "
        f"{len(captured)} tick rows on disk; {len(doubled)} doubled in the stream"
    )
    return s


def audit_same_set(title: str, a_name: str, a: Sequence[Bar], b_name: str, b: Sequence[Bar]) -> Section:
    """Two places hold the same closed candles, each once."""
    s = Section(title)
    ka = {(x[0], x[1], x[2]): x for x in a}
    kb = {(x[0], x[1], x[2]): x for x in b}
    only_a = sorted(set(ka) - set(kb))
    only_b = sorted(set(kb) - set(ka))
    differ = [k for k in set(ka) & set(kb) if not same_bar(ka[k], kb[k])]
    for k in only_a[:10]:
        s.problem(f"{k[0]} {k[1]}s {_fmt(k[2])} is in {a_name} but not in {b_name}", k[2] + k[1])
    for k in only_b[:10]:
        s.problem(f"{k[0]} {k[1]}s {_fmt(k[2])} is in {b_name} but not in {a_name}", k[2] + k[1])
    for k in differ[:10]:
        s.problem(f"{k[0]} {k[1]}s {_fmt(k[2])} differs: {ka[k][3:]} vs {kb[k][3:]}", k[2] + k[1])
    s.lines.append(
        f"{len(ka)} in {a_name}, {len(kb)} in {b_name}: {len(only_a)} only in the first, "
        f"{len(only_b)} only in the second, {len(differ)} different"
    )
    return s


def audit_client(
    asset: str, tf: int, bars: Sequence[Bar], received: Sequence[Mapping[str, Any]], since: float
) -> Section:
    """A chart client got every closed candle of its stream (live or in a history it was sent).

    ``received`` holds the closed candles from ``candle_update`` and ``history`` events;
    ``since`` is when it first subscribed (candles before it came as history, which counts too).
    """
    s = Section(f"Socket.IO client on {asset} {tf}s")
    got: dict[int, list[Bar]] = defaultdict(list)
    for d in received:
        b = bar_from_map(d)
        if b[0] == asset and b[1] == tf:
            got[b[2]].append(b)
    mine = [b for b in bars if b[0] == asset and b[1] == tf]
    missing = [b for b in mine if b[2] not in got]
    wrong = [b for b in mine if b[2] in got and not any(same_bar(b, x) for x in got[b[2]])]
    for b in missing[:10]:
        s.problem(f"closed candle {_fmt(b[2])} never reached the client", b[2] + tf)
    for b in wrong[:10]:
        s.problem(
            f"closed candle {_fmt(b[2])} reached the client with other values: {got[b[2]][0][3:]} vs {b[3:]}",
            b[2] + tf,
        )
    s.lines.append(
        f"{len(mine)} closed candles in the stream, {sum(len(v) for v in got.values())} closed candles received "
        f"(history and live, since {_fmt(since)}): {len(missing)} never received, {len(wrong)} with other values"
    )
    return s


@dataclass(frozen=True)
class Step:
    """One expected event: its type and the data fields it must have (a value or a tuple of choices)."""

    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, ev: Mapping[str, Any]) -> bool:
        if ev.get("type") != self.type:
            return False
        for k, want in self.fields.items():
            got = ev.get(k)
            if isinstance(want, tuple) and got not in want:
                return False
            if isinstance(want, str) and want.startswith("!"):
                if got == want[1:]:
                    return False
            elif not isinstance(want, tuple) and got != want:
                return False
        return True

    def __str__(self) -> str:
        return f"{self.type}({', '.join(f'{k}={v}' for k, v in self.fields.items())})"


def audit_story(
    name: str, events: Sequence[Mapping[str, Any]], start: float, end: float, steps: Sequence[Step]
) -> tuple[Section, list[float]]:
    """The events between ``start`` and ``end`` contain ``steps`` in this order; returns their times."""
    s = Section(f"events tell the story of: {name}")
    times: list[float] = []
    i = 0
    window = [e for e in events if start <= float(e.get("ts", 0)) <= end]
    for ev in window:
        if i < len(steps) and steps[i].matches(ev):
            times.append(float(ev["ts"]))
            who = ev.get("service") or ev.get("type")
            s.lines.append(
                f"+{float(ev['ts']) - start:6.2f} s  {who} {ev.get('state')}: {ev.get('message') or ev.get('reason') or ''}"
            )
            i += 1
    if i < len(steps):
        s.problem(f"no {steps[i]} after the steps found (looked at {len(window)} events)")
    return s, times
