"""Fuzz run of the ingest decoder on mangled recordings: counts the inputs tried, the reasons and the crashes.

Each input is a whole recording (the real sample recording and the ingest test recordings)
mangled at random — cut, flipped, inserted and doubled characters in text frames, corrupted and
truncated base64 in binary frames, JSON values swapped for wrong types, huge numbers, NaN,
deep nesting, frames reordered, dropped or repeated, headers without bodies — fed frame by
frame to a fresh decoder. The decoder classifies bad input under named reasons (``malformed:<kind>``,
``rejected:<why>``); the run prints how often each one came up. A crash is any exception out of
``Decoder.feed``: the decoder raises nothing on bad input, so every one is a bug. Counted apart are
a record the bus cannot carry (not packable, or a tick with a non-finite time or price), since
ingest's publisher packs records in the capture's thread and would raise there, and a reason named
after a Python exception (a bug caught and counted instead of classified). The exit status is 1
when any of these happened. Seeded, so a crash can be reproduced with the same ``--seed``.

    .venv/bin/python bench/fuzz_decoder.py               # 20 000 mangled recordings (~10 s)
    .venv/bin/python bench/fuzz_decoder.py --inputs 50000 --seed 7
"""

from __future__ import annotations

import argparse
import base64
import builtins
import collections
import json
import math
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quantumflux.bus.records import HistoryBatch, Tick, pack  # noqa: E402
from quantumflux.ingest.decode import Decoder  # noqa: E402
from quantumflux.ingest.frames import Frame  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# The decoder's counters that name bad input.
REASONS = ("malformed:", "rejected:")
WRONG_VALUES: list[object] = [
    None, True, "", "x" * 10_000, -1, 0, 1e308, -1e308, 2**70, [], {}, [[[[[]]]]], "NaN", "1.2.3", [None] * 50,
]  # fmt: skip


def recordings() -> list[list[Frame]]:
    """The real recordings the mangling starts from."""
    out = []
    paths = [FIXTURES / "po" / "sample-recording.jsonl", *sorted((FIXTURES / "ingest").glob("*.jsonl"))]
    for path in paths:
        frames = []
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    frames.append(Frame.from_json(json.loads(line)))
                except ValueError:
                    continue  # some test recordings hold deliberately broken lines
        if frames:
            out.append(frames)
    return out


def mangle_text(rng: random.Random, text: str) -> str:
    """Character-level damage: cut, flip, insert, double."""
    for _ in range(rng.randint(1, 4)):
        if not text:
            return text
        i = rng.randrange(len(text))
        op = rng.random()
        if op < 0.25:
            text = text[:i]
        elif op < 0.5:
            text = text[:i] + chr(rng.randrange(0x20, 0x2FFF)) + text[i + 1 :]
        elif op < 0.75:
            text = (
                text[:i]
                + rng.choice(['"', "[", "]", "{", "}", ",", ":", "-", "451-", "\x00", "\\u"])
                + text[i:]
            )
        else:
            text = text[:i] + text[i:] * 2
    return text


def mangle_json(rng: random.Random, obj: object, depth: int = 0) -> object:
    """Structural damage: swap a value somewhere for one of a wrong type."""
    if depth > 6 or rng.random() < 0.15:
        return rng.choice([*WRONG_VALUES, float("nan"), float("inf")])
    if isinstance(obj, list) and obj:
        obj = list(obj)
        i = rng.randrange(len(obj))
        obj[i] = mangle_json(rng, obj[i], depth + 1)
        if rng.random() < 0.1:
            obj = obj[: rng.randrange(len(obj) + 1)]
        return obj
    if isinstance(obj, dict) and obj:
        obj = dict(obj)
        k = rng.choice(list(obj))
        if rng.random() < 0.2:
            del obj[k]
        else:
            obj[k] = mangle_json(rng, obj[k], depth + 1)
        if rng.random() < 0.1:
            obj["unknown_" + str(rng.randrange(100))] = rng.choice(WRONG_VALUES)
        return obj
    return rng.choice(WRONG_VALUES) if rng.random() < 0.5 else obj


def mangle_binary(rng: random.Random, payload: str) -> str:
    """A binary frame (base64): damage its JSON body, its bytes, or its base64 itself."""
    try:
        raw = base64.b64decode(payload, validate=True)
    except ValueError:
        return mangle_text(rng, payload)
    choice = rng.random()
    if choice < 0.4:
        try:
            body = json.loads(raw)
            raw = json.dumps(mangle_json(rng, body), allow_nan=True).encode()
        except ValueError:
            pass
    elif choice < 0.7 and raw:
        b = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        raw = bytes(b)
    elif choice < 0.85:
        raw = raw[: rng.randrange(len(raw) + 1)]
    else:
        return mangle_text(rng, payload)  # not even valid base64
    return base64.b64encode(raw).decode()


def mangle_frame(rng: random.Random, f: Frame) -> Frame:
    payload = f.payload
    if f.opcode == 2:
        payload = mangle_binary(rng, payload)
    elif payload.startswith("42") and rng.random() < 0.5:
        try:
            payload = "42" + json.dumps(mangle_json(rng, json.loads(payload[2:])), allow_nan=True)
        except ValueError:
            payload = mangle_text(rng, payload)
    else:
        payload = mangle_text(rng, payload)
    opcode = f.opcode if rng.random() < 0.9 else 3 - f.opcode
    ts = f.ts if rng.random() < 0.95 else rng.choice([0.0, -1.0, 1e12, f.ts - 86400 * 365])
    return Frame(ts, f.dir, f.socket, f.url, opcode, payload)


def mangle_recording(rng: random.Random, frames: list[Frame]) -> list[Frame]:
    """Damage some frames and shuffle, drop or repeat a few."""
    out = []
    rate = rng.choice([0.02, 0.1, 0.3, 1.0])
    for f in frames:
        r = rng.random()
        if r < rate:
            out.append(mangle_frame(rng, f))
        elif r < rate + 0.01:
            continue
        elif r < rate + 0.02:
            out += [f, f]
        else:
            out.append(f)
    for _ in range(rng.randint(0, 3)):
        if len(out) > 2:
            i, j = rng.randrange(len(out)), rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
    return out


def check(records: list[object]) -> str | None:
    """Why these records could not go on the bus, or None."""
    for r in records:
        try:
            pack(r)  # type: ignore[arg-type]
        except Exception as exc:
            return f"record {r!r} cannot be packed: {exc}"
        if isinstance(r, Tick) and not (math.isfinite(r.ts) and math.isfinite(r.price) and r.asset):
            return f"tick with a bad field: {r!r}"
        if isinstance(r, HistoryBatch) and not r.asset:
            return f"history without an asset: {r!r}"
    return None


def exception_named(reasons: collections.Counter[str]) -> list[str]:
    """Reasons named after a Python exception (``malformed:ValueError``): a bug, not a reason."""
    out = []
    for key in reasons:
        name = key.partition(":")[2]
        found = getattr(builtins, name, None)
        if isinstance(found, type) and issubclass(found, BaseException):
            out.append(key)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=20_000, help="mangled recordings to try (default 20 000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (same seed, same inputs)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = recordings()
    tried = frames_fed = unpublishable = records_out = 0
    crashes: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    first: list[str] = []
    t0 = time.perf_counter()
    for n in range(args.inputs):
        frames = mangle_recording(rng, rng.choice(base))
        decoder = Decoder()
        tried += 1
        for f in frames:
            frames_fed += 1
            try:
                out = decoder.feed(f)
            except Exception as exc:
                crashes[type(exc).__name__] += 1
                if len(first) < 5:
                    first.append(f"input {n}, frame {f.to_json()!r:.300}:\n{traceback.format_exc()}")
                continue
            records_out += len(out)
            why = check(out)
            if why is not None:
                unpublishable += 1
                if len(first) < 5:
                    first.append(f"input {n}: {why}")
        reasons.update({k: v for k, v in decoder.counters.items() if k.startswith(REASONS)})
    dt = time.perf_counter() - t0
    named = exception_named(reasons)
    print(f"fuzz_decoder: seed {args.seed}, {len(base)} base recordings")
    print(
        f"inputs tried: {tried} mangled recordings ({frames_fed} frames, {records_out} records out) in {dt:.1f} s"
    )
    print("bad input by reason:")
    for key, count in sorted(reasons.items()):
        print(f"  {key:40} {count:>10}")
    print(f"unexpected exceptions out of the decoder: {crashes.total()}", dict(crashes) or "")
    print(f"reasons named after a Python exception: {len(named)}", named or "")
    print(f"records the bus cannot carry (ingest's publisher would raise on them): {unpublishable}")
    for text in first:
        print("----\n" + text)
    return 1 if crashes or unpublishable or named else 0


if __name__ == "__main__":
    raise SystemExit(main())
