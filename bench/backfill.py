"""Backfill benchmark: candles per second paged back through a real page on the simulated broker.

    .venv/bin/python bench/backfill.py            # one day of 1m candles for one asset, per pace
    .venv/bin/python bench/backfill.py --days 3

A headless Chromium shows the simulator's page, the real ingest service captures the answers into
Redis, and ``qf backfill``'s engine pages one day of one-minute candles back into a fresh data
folder, once per pace: none (the simulator's limit lowered to match) and the default 0.5 s.
Prints pages, candles and candles per second for each.

Needs the Redis at QF_REDIS_URL (default 127.0.0.1:6379); uses its own key prefix and removes it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import trio  # noqa: E402

from quantumflux.backfill import pager  # noqa: E402
from quantumflux.backfill.config import BackfillSettings  # noqa: E402
from quantumflux.backfill.worker import Job, backfill  # noqa: E402
from quantumflux.ingest.chrome import Chromium  # noqa: E402
from tests.ingest.stack import Bus, IngestProcess, close_pages, wait_until  # noqa: E402
from tests.sim.test_server import start_sim  # noqa: E402

ASSET = "EURUSD_otc"
# (label, our pace, the simulator's least gap between requests)
RUNS = (("no pacing", 0.0, 0.0), ("default pace 0.5 s", 0.5, 0.3))


def one_run(chrome: str, redis_url: str, workdir: Path, days: float, pace: float, gap: float) -> str:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env |= {"QF_REDIS_URL": redis_url, "QF_PREFIX": prefix}
    sim = start_sim(workdir, "--assets", "2", "--seed", "3", "--history-gap", str(gap))
    ingest = IngestProcess(env, workdir, QF_CHROME_URL=chrome, QF_OPEN_URL=sim.url)
    bus = Bus(redis_url, prefix)
    try:
        wait_until(lambda: bus.tick_count() >= 4, what="live ticks")
        settings = BackfillSettings(
            redis_url=redis_url, prefix=prefix, data_dir=workdir / f"data-{prefix}", chrome_url=chrome,
            bridge_pace=pace, backfill_timeout=5.0,
        )  # fmt: skip
        now = time.time()
        job = Job(ASSET, 60, pager.first_wanted(now - days * 86400, 60), pager.newest_closed(now, 60))
        started = time.monotonic()
        report = trio.run(backfill, settings, [job])
        spent = time.monotonic() - started
        candles = sum(report.written.values())
        return (
            f"{candles:6d} candles  {report.pages:4d} pages  {spent:6.1f} s  {candles / spent:8.0f} candles/s"
        )
    finally:
        ingest.stop()
        close_pages(chrome, sim.url)
        sim.stop()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=float, default=1.0, help="days of 1m candles per run")
    args = parser.parse_args()
    redis_url = os.environ.get("QF_REDIS_URL", "redis://127.0.0.1:6379/0")
    with tempfile.TemporaryDirectory() as tmp:
        browser = Chromium(user_data_dir=Path(tmp) / "profile").start()
        try:
            for label, pace, gap in RUNS:
                workdir = Path(tmp) / label.replace(" ", "-")
                workdir.mkdir()
                print(f"{label:20s} {one_run(browser.http_url, redis_url, workdir, args.days, pace, gap)}")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
