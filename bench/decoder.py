"""Decode-only speed of the ingest decoder on the real sample recording, repeated.

Prints ticks per second, and the ratio against a baseline measured in the same run: the bare
minimum any decoder must do per tick frame pair (base64-decode and JSON-parse the body with
orjson, the parser the decoder uses).

    .venv/bin/python bench/decoder.py            # short run (about 60 000 ticks)
    .venv/bin/python bench/decoder.py --long     # ten times longer
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import platform
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quantumflux.ingest.decode import Decoder  # noqa: E402
from quantumflux.ingest.frames import Frame  # noqa: E402

RECORDING = ROOT / "tests" / "fixtures" / "po" / "sample-recording.jsonl"


def load_frames(repeat: int) -> list[Frame]:
    with RECORDING.open() as f:
        frames = [Frame.from_json(json.loads(line)) for line in f if line.strip()]
    return frames * repeat


def best_of(runs: int, fn) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--long", action="store_true", help="run ten times longer")
    args = parser.parse_args()
    repeat = 2000 if args.long else 200
    frames = load_frames(repeat)
    ticks_expected = 300 * repeat

    def decode() -> None:
        dec = Decoder()
        feed = dec.feed
        n = 0
        for fr in frames:
            n += len(feed(fr))
        assert dec.counters["ticks"] == ticks_expected, dec.counters
        # the real recording is the protocol as known: watching it for drift finds nothing
        assert dec.counters["protocol_drift"] == 0, dec.drift_report()

    def baseline() -> None:
        loads, a2b = orjson.loads, binascii.a2b_base64
        n = 0
        for fr in frames:
            if fr.opcode == 2:
                n += len(loads(a2b(fr.payload)))
        assert n == ticks_expected

    base64.b64decode(b"")  # warm imports
    # alternate the two so that other load on the machine hits both alike
    t_dec = t_base = float("inf")
    for _ in range(4):
        t_dec = min(t_dec, best_of(1, decode))
        t_base = min(t_base, best_of(1, baseline))
    dec_rate = ticks_expected / t_dec
    base_rate = ticks_expected / t_base
    print(
        f"python {platform.python_version()} on {platform.machine()}, {len(frames)} frames, {ticks_expected} ticks"
    )
    print(f"decoder:  {dec_rate:12,.0f} ticks/s")
    print(f"baseline: {base_rate:12,.0f} ticks/s  (base64 + orjson of each tick body only)")
    print(f"ratio decoder/baseline: {dec_rate / base_rate:.2f}")


if __name__ == "__main__":
    main()
