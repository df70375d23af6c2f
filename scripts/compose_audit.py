"""What scripts/compose-check.sh asks of the data a compose stack kept, and of its chart.

    python scripts/compose_audit.py files DATA_DIR TRUTH WINDOWS   ticks and candles on disk
    python scripts/compose_audit.py scaled STATUS_JSON WORKERS     every candle worker holds partitions
    python scripts/compose_audit.py chart URL                      the chart loads in a real browser

Each prints what it found and exits 1 on a problem. The tick audit is the fault drills' own
(tests/system/audit.py): every tick the simulated broker sent is on disk exactly once, except
inside the windows in which the capture was down.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.system.audit import (  # noqa: E402
    CANDLE_FILE,
    Section,
    TickRow,
    Window,
    audit_ticks,
    parse_time,
    tick_rows,
)


def sent_ticks(lines: Iterable[str]) -> list[TickRow]:
    """The simulated broker's truth file: one JSON line ``{asset, ts, price}`` per tick sent."""
    out = []
    for line in lines:
        if line.strip():
            d = json.loads(line)
            out.append((str(d["asset"]), float(d["ts"]), float(d["price"])))
    return out


def capture_windows(lines: Iterable[str]) -> list[Window]:
    """``start end cause…`` per line: when nobody could capture (a service down, the stack down)."""
    out = []
    for line in lines:
        parts = line.split(maxsplit=2)
        if len(parts) == 3:
            out.append(Window(float(parts[0]), float(parts[1]), parts[2].strip()))
    return out


def candle_keys(name: str, text: str) -> list[tuple[str, str, float]]:
    """(asset, timeframe label, open time) of every row of one candle file, whatever its extra columns."""
    m = CANDLE_FILE.fullmatch(name)
    if m is None:
        raise ValueError(f"{name} is not a candle file name")
    rows = list(csv.reader(text.splitlines()))
    if not rows or rows[0][:6] != ["timestamp", "open", "high", "low", "close", "ticks"]:
        raise ValueError(f"{name} has no candle header")
    return [(m["asset"], m["tf"], parse_time(r[0])) for r in rows[1:] if r]


def audit_candle_files(files: dict[str, str]) -> Section:
    """Candle files exist and hold each (asset, timeframe, time) once."""
    s = Section("candles in CSV files")
    seen: Counter[tuple[str, str, float]] = Counter()
    for name, text in files.items():
        seen.update(candle_keys(name, text))
    per_tf = Counter(k[1] for k in seen.elements())
    s.lines.append(f"{sum(seen.values())} candle rows in {len(files)} files: {dict(sorted(per_tf.items()))}")
    if not seen:
        s.problem("no candle rows on disk")
    for k, n in seen.items():
        if n > 1:
            s.problem(f"{k[0]} {k[1]} {k[2]:.0f} is on disk {n} times")
    return s


def audit_workers(status: dict[str, Any], workers: int) -> Section:
    """``qf status --json``: ``workers`` live candle workers, each holding at least one partition."""
    s = Section("candle workers")
    live = [
        x
        for x in status.get("services", [])
        if isinstance(x, dict) and x.get("service") == "candles" and float(x.get("last_beat_s", 99)) < 5
    ]
    held = {str(x["instance"]): x.get("info", {}).get("partitions", []) for x in live}
    s.lines.append(f"partitions per worker: {held}")
    if len(held) < workers:
        s.problem(f"{len(held)} candle workers beat, {workers} expected")
    for instance, parts in held.items():
        if not parts:
            s.problem(f"{instance} holds no partition")
    return s


def _files(root: Path, pattern: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(root.glob(pattern)) if p.is_file()}


def files_main(data: Path, truth: Path, windows: Path) -> int:
    """Audit the data volume's copy against the broker's truth; 0 when it passes."""
    captured = [
        r
        for name, text in _files(data, "realtime_stream/tick_data/*.csv").items()
        for r in tick_rows(name, text)
    ]
    sections = [
        audit_ticks(
            sent_ticks(truth.read_text().splitlines()),
            captured,
            capture_windows(windows.read_text().splitlines()),
        ),
        audit_candle_files(_files(data, "realtime_stream/*_candle_data/*.csv")),
    ]
    return _report(sections)


def _report(sections: list[Section]) -> int:
    bad = 0
    for s in sections:
        print(f"== {s.title}: {'ok' if not s.problems else f'{len(s.problems)} problem(s)'}")
        for line in [*s.lines, *(f"PROBLEM {p}" for p in s.problems[:30])]:
            print(f"   {line}")
        bad += len(s.problems)
    return 1 if bad else 0


def chart_main(url: str) -> int:
    """Open the web app in a real headless Chromium and wait for live candles on the chart."""
    from tests.web.helpers import Page, chrome_bin

    if chrome_bin() is None or not (ROOT / "web" / "node_modules" / "playwright-core").is_dir():
        print("chart: no Chromium or playwright-core on this machine (scripts/setup.sh installs them)")
        return 1
    page = Page()
    try:
        page.do("open", url=url)
        page.wait("connection-status", attr="data-state", equals="connected", timeout=30)
        page.wait("chrome-status", attr="data-state", equals="connected", timeout=30)
        page.wait("live-badge", attr="data-live", equals="true", timeout=30)
        count = page.wait("candle-count", matches=r"^[1-9]\d* candles$", timeout=30)
        print(f"chart: connected, live, {count}")
    except (AssertionError, RuntimeError) as exc:
        print(f"chart: {exc}")
        return 1
    finally:
        page.close()
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["files"] and len(argv) == 4:
        return files_main(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    if argv[:1] == ["scaled"] and len(argv) == 3:
        return _report([audit_workers(json.loads(Path(argv[1]).read_text()), int(argv[2]))])
    if argv[:1] == ["chart"] and len(argv) == 2:
        return chart_main(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
