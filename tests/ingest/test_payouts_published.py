"""A payout the broker changes reaches ``qf:payouts`` and the persistence service's payout files.

The real path: the simulated broker in a headless Chromium → CDP → ingest → Redis → persistence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Payout, decode
from quantumflux.files.payouts import read_payouts
from quantumflux.ingest.chrome import Chromium
from quantumflux.sim.drills import PAYOUT_ENV
from tests.ingest.stack import ROOT, Bus, IngestProcess, close_pages, wait_until

pytestmark = pytest.mark.browser

ASSET = "EURUSD_otc"
NEW_PAYOUT = 70


class Sim:
    """The simulated broker, told to move one payout a few seconds after it starts."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.log = (workdir / "sim.log").open("wb")
        clean = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.sim", "--port", "0", "--seed", "3", "--assets", "2"],
            cwd=ROOT, env={**clean, **env}, stdout=subprocess.PIPE, stderr=self.log,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.page = self.proc.stdout.readline().decode().strip()
        if not self.page.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the simulator did not start: {self.page!r}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def persistence(test_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (tmp_path / "persistence.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.persistence"], cwd=ROOT, env=test_env, stdout=out, stderr=out
        )
    yield proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def payouts_in_redis(bus: Bus, prefix: str) -> list[Payout]:
    rows = bus.client.xrange(Keys(prefix).payouts())
    return [rec for _id, fields in rows if isinstance(rec := decode(fields[b"d"]), Payout)]


def payouts_on_disk(data_dir: Path) -> list[tuple[float, float, bool]]:
    rows: list[tuple[float, float, bool]] = []
    for path in sorted((data_dir / "payouts").glob(f"{ASSET}_payouts_*.csv")):
        rows += read_payouts(path)
    return rows


def test_a_changed_payout_reaches_the_payouts_stream_and_the_files(
    chromium: Chromium,
    test_env: dict[str, str],
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    persistence: subprocess.Popen[bytes],
) -> None:
    sim = Sim(tmp_path, **{PAYOUT_ENV: f"{ASSET}={NEW_PAYOUT}@4"})
    bus = Bus(redis_url, prefix)
    ingest = IngestProcess(test_env, tmp_path, QF_CHROME_URL=chromium.http_url, QF_OPEN_URL=sim.page)
    try:
        # The first asset list gives each asset's terms once...
        first = wait_until(lambda: payouts_in_redis(bus, prefix), what="the first payouts")
        [before] = [p for p in first if p.asset == ASSET]
        assert before.open and before.payout != NEW_PAYOUT
        assert len(first) == len({p.asset for p in first})  # one record per asset, not per copy

        # ...then only what changed: the one asset, with its new payout.
        def changed() -> list[Payout]:
            return [p for p in payouts_in_redis(bus, prefix) if p.payout == NEW_PAYOUT]

        [after] = wait_until(changed, what="the changed payout on qf:payouts")
        assert after.asset == ASSET and after.open and after.ts >= before.ts
        assert len(payouts_in_redis(bus, prefix)) == len(first) + 1  # the resent list repeats nothing else

        data_dir = Path(test_env["QF_DATA_DIR"])
        rows = wait_until(
            lambda: len(got := payouts_on_disk(data_dir)) >= 2 and got, what="the payout rows on disk"
        )
        assert [(payout, is_open) for _t, payout, is_open in rows] == [
            (before.payout, True),
            (float(NEW_PAYOUT), True),
        ]
        assert rows[1][0] == pytest.approx(after.ts, abs=0.001)
    finally:
        code = ingest.stop()
        close_pages(chromium.http_url, sim.page)
        sim.stop()
        bus.close()
    assert code == 0, ingest.output()
    assert persistence.poll() is None, "the persistence service stopped on its own"
