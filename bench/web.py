"""Update-to-paint time of the web chart in headless Chromium, with many candles loaded.

Loads the chart with a baseline number of candles and with the measured number (default 50 000),
sends live updates at random moments (20 per second on average) and measures, per update, the time
from its arrival until the frame that draws it has been drawn, and the time the page spent on it.
Prints both runs and the ratio of the loaded run to the baseline measured in the same run.

By default Chromium produces a frame as soon as one is needed (no 60 Hz pacing), so the figure is
the page's own delay; ``--vsync`` keeps the display's pacing, which adds up to one frame of
waiting (16.7 ms) to every update.

Usage: python bench/web.py [--candles 50000] [--baseline 500] [--rate 20] [--seconds 10] [--long]
       [--vsync] [--window N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candles", type=int, default=50_000)
    ap.add_argument("--baseline", type=int, default=500)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--long", action="store_true", help="run for 60 s per size instead")
    ap.add_argument("--vsync", action="store_true", help="keep the display's 60 Hz frame pacing")
    ap.add_argument("--window", type=int, default=0, help="candles the chart holds (default: the app's)")
    args = ap.parse_args()
    if shutil.which("node") is None:
        print("web bench: Node.js is needed (the set-up script installs it)", file=sys.stderr)
        return 2
    if not (WEB / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=WEB, check=True, stdout=subprocess.DEVNULL)
    seconds = 60 if args.long else args.seconds
    cmd = [
        "node",
        "e2e/bench_paint.mjs",
        "--candles",
        str(args.candles),
        "--baseline",
        str(args.baseline),
        "--rate",
        str(args.rate),
        "--seconds",
        str(seconds),
    ]
    if args.vsync:
        cmd.append("--vsync")
    if args.window:
        cmd += ["--window", str(args.window)]
    out = subprocess.run(cmd, cwd=WEB, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    base, loaded = result["baseline"], result["loaded"]
    pacing = "60 Hz display pacing" if args.vsync else "frames on demand"
    if args.window:
        pacing += f", chart holding {args.window} candles"
    print(f"web chart, update-to-paint ({pacing}), {args.rate:g} updates/s for {seconds:g} s")
    print(
        f"{'candles':>8} {'updates':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'work p95':>9} {'load ms':>8}"
    )
    for r in (base, loaded):
        print(
            f"{r['candles']:>8} {r['updates']:>8} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['max']:>8.1f}"
            f" {r['workP95']:>9.1f} {r['loadMs']:>8.0f}"
        )
    ratio = loaded["p95"] / base["p95"] if base["p95"] else float("nan")
    verdict = "ok" if loaded["p95"] <= 16 else "over"
    print(f"ratio p95 {loaded['candles']} / {base['candles']} candles: {ratio:.2f}")
    print(f"p95 with {loaded['candles']} candles: {loaded['p95']:.1f} ms (target 16 ms: {verdict})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
