"""Benchmark: tick rows persisted per second, end to end, against a plain-file baseline.

End to end means: entries already in the tick streams of Redis → read by the persistence worker's
own loop (its reading process, then the writer), decoded, formatted, written to the chunked files,
fsynced, committed, and the group moved past them (XGROUP SETID). Two baselines are measured in the same run, both with one fsync per batch of
the same size:

- disk: the same rows (same text) formatted and written to one file — the disk alone;
- plain reader: the same entries read with XRANGE (no group, no acknowledgement), decoded with the
  bus codec, formatted and written to one file — what a reader without chunking, commit record or
  exactly-once bookkeeping would do.

    python bench/persistence.py            # 200 000 ticks, best of 3 runs, about 30 s
    python bench/persistence.py --long     # 1 000 000 ticks

Uses the Redis at QF_REDIS_URL (default redis://127.0.0.1:6379/0) under a throwaway prefix, which
it deletes afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Tick, decode_fields, pack
from quantumflux.files.rows import RowFormatter
from quantumflux.persistence.config import PersistenceSettings
from quantumflux.persistence.worker import Worker

ASSETS = [f"{a}{b}_otc" for a in ("EUR", "GBP", "AUD", "NZD") for b in ("USD", "JPY", "CHF", "CAD", "SGD")]
T0 = 1795835100.0


def make_ticks(n: int) -> list[Tick]:
    return [Tick(ASSETS[i % len(ASSETS)], T0 + i * 0.01, 1.0 + (i % 997) * 1e-5) for i in range(n)]


def publish(client: redis.Redis, keys: Keys, ticks: list[Tick]) -> None:
    pipe = client.pipeline(transaction=False)
    for i, t in enumerate(ticks):
        pipe.xadd(keys.stream_of_ticks(t.asset, 4), {"d": pack(t)})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def end_to_end(url: str, prefix: str, data: Path, batch: int, n: int) -> tuple[float, int]:
    """Seconds the worker takes to persist every entry after its first batch, and that many rows.

    The clock starts once the first batch is committed, so the service's start (its reading
    process takes a few tenths of a second to come up) is not counted as throughput.
    """
    settings = PersistenceSettings(
        redis_url=url, prefix=prefix, data_dir=data, persist_batch=batch, lag_warning=10**9
    )
    w = Worker(settings)
    w.store.lock()
    assert w.open_store()
    runner = threading.Thread(target=w.serve)
    runner.start()
    while w.counts["entries"] == 0 and runner.is_alive():
        time.sleep(0.0005)
    start, first = time.perf_counter(), w.counts["entries"]
    while w.counts["entries"] < n and runner.is_alive():
        time.sleep(0.002)
    took = time.perf_counter() - start
    w.stop()
    runner.join()
    w.store.unlock()
    w.client.close()
    return took, n - first


def baseline(ticks: list[Tick], path: Path, batch: int) -> float:
    """Seconds to format the same rows and write them to one file, one fsync per batch."""
    fmt = RowFormatter()
    start = time.perf_counter()
    with open(path, "wb") as fh:
        fh.write(b"timestamp,price\n")
        for i in range(0, len(ticks), batch):
            fh.write("".join(fmt.tick(t.ts, t.price) for t in ticks[i : i + batch]).encode())
            fh.flush()
            os.fsync(fh.fileno())
    return time.perf_counter() - start


def plain_reader(client: redis.Redis, keys: Keys, path: Path, batch: int) -> float:
    """Seconds to XRANGE every entry, decode it, and write its row to one file, one fsync per batch."""
    fmt = RowFormatter()
    start = time.perf_counter()
    with open(path, "wb") as fh:
        fh.write(b"timestamp,price\n")
        for key in keys.all_ticks(4):
            low = "-"
            while True:
                rows = client.xrange(key, min=low, max="+", count=batch)
                if not rows:
                    break
                lines = []
                for _, fields in rows:
                    t = decode_fields(fields)
                    assert isinstance(t, Tick)
                    lines.append(fmt.tick(t.ts, t.price))
                fh.write("".join(lines).encode())
                fh.flush()
                os.fsync(fh.fileno())
                low = "(" + rows[-1][0].decode()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long", action="store_true", help="1 000 000 ticks instead of 200 000")
    ap.add_argument("--ticks", type=int, default=None)
    ap.add_argument("--batch", type=int, default=20_000, help="entries per batch (QF_PERSIST_BATCH)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measure; the best counts")
    a = ap.parse_args()
    n = a.ticks or (1_000_000 if a.long else 200_000)
    url = os.environ.get("QF_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    keys = Keys(prefix)
    tmp = Path(tempfile.mkdtemp(prefix="qf-bench-"))
    try:
        ticks = make_ticks(n)
        publish(client, keys, ticks)
        e2e = base = plain = float("inf")
        # The machine is shared: each figure is the best of a few runs, taken in turns.
        for rep in range(a.repeat):
            for key in keys.all_ticks(4):
                client.xgroup_destroy(key, "persistence")  # read everything again, into a new folder
            data = tmp / f"data{rep}"
            took, rows = end_to_end(url, prefix, data, a.batch, n)
            e2e = min(e2e, took * n / rows)  # as seconds for all n rows at the measured rate
            files = list(data.rglob("*.csv"))
            rows = sum(p.read_bytes().count(b"\n") - 1 for p in files)
            assert rows == n, f"{rows} rows on disk for {n} ticks"
            shutil.rmtree(data)
            base = min(base, baseline(ticks, tmp / "baseline.csv", a.batch))
            plain = min(plain, plain_reader(client, keys, tmp / "plain.csv", a.batch))
        e2e_rate, base_rate, plain_rate = n / e2e, n / base, n / plain
        print(f"ticks: {n}, batch: {a.batch}, assets: {len(ASSETS)}, partitions: 4, best of {a.repeat}")
        print(
            f"end to end (Redis → chunked files, fsync, commit, group moved): {e2e_rate:,.0f} rows/s ({e2e:.2f} s)"
        )
        print(
            f"baseline disk (same rows → one file, fsync per batch): {base_rate:,.0f} rows/s ({base:.2f} s)"
        )
        print(f"baseline plain reader (XRANGE, decode → one file): {plain_rate:,.0f} rows/s ({plain:.2f} s)")
        print(f"ratio end to end / disk: {e2e_rate / base_rate:.2f}   (target ≥ 0.5)")
        print(f"ratio end to end / plain reader: {e2e_rate / plain_rate:.2f}")
        print(f"≥ 100 000 tick rows/s: {'met' if e2e_rate >= 100_000 else 'NOT met'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        names = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if names:
            client.delete(*names)
        client.close()


if __name__ == "__main__":
    main()
