"""The candle worker as a real process against the real Redis: exact bars, exactly once, leases."""

from __future__ import annotations

import random
import signal
import time

import msgpack
import pytest

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import HistoryBatch
from quantumflux.bus.streams import groups

from .support import (
    Producer,
    assert_same_bars,
    bars_by_key,
    by_asset_partition,
    closed_truth,
    done,
    events,
    heartbeats,
    po_ticks,
    publish,
    publish_history,
    read_bars,
    sentinels_for,
    start_worker,
    stop_worker,
    synthetic,
    truth,
    wait_for,
)

TFS = (5, 60, 300, 900, 3600, 14400)
TF_ENV = "5s,1m,5m,15m,1h,4h"


def test_exact_bars_series_and_candle_updates_for_real_ticks(rclient, prefix, test_env, po_data, tmp_path):
    real = po_ticks(po_data)
    other = synthetic(["EURUSD_otc", "AUDCAD_otc", "BTCUSD"], 300)
    ticks = real + other
    sent = sentinels_for(ticks)
    publish(rclient, prefix, ticks + sent)
    proc = start_worker(
        test_env, log=tmp_path / "w.log", QF_TIMEFRAMES=TF_ENV, QF_SERIES_LENGTH="40", QF_CLOSE_GRACE="3600"
    )
    want = closed_truth(ticks, TFS, sent)
    try:
        wait_for(lambda: done(rclient, prefix, TFS, want), timeout=60, what="every tick applied")
        got = bars_by_key(read_bars(rclient, prefix, TFS))
        assert got == want
        # Series: the last 40 closed candles per asset and timeframe, scored by time.
        keys = Keys(prefix)
        for tf in (5, 60):
            mine = sorted(k for k in want if k[0] == "GBPUSD_otc" and k[1] == tf)[-40:]
            rows = rclient.zrange(keys.series("GBPUSD_otc", tf), 0, -1, withscores=True)
            assert [int(s) for _m, s in rows] == [k[2] for k in mine]
            assert all(msgpack.unpackb(m)["closed"] for m, _s in rows)
        # Candle updates: every closed bar appears there too, and the sentinel's candle is forming.
        updates = [msgpack.unpackb(f[b"d"]) for _i, f in rclient.xrange(keys.candles(60))]
        assert {(u["asset"], u["time"]) for u in updates if u["closed"]} == {
            (k[0], k[2]) for k in want if k[1] == 60
        }
        last = [u for u in updates if u["asset"] == "GBPUSD_otc"][-1]
        assert not last["closed"] and last["ticks"] == 1
        # The heartbeat says which timeframes exist; the group position follows what was applied.
        beat = wait_for(
            lambda: [b for b in heartbeats(rclient, prefix) if b.get("partitions")], what="heartbeat"
        )[0]
        assert beat["timeframes"] == list(TFS)
        assert sorted(beat["partitions"]) == [0, 1, 2, 3]
        # The two real files are 19 minutes apart: that gap (and the sentinel's) is reported.
        reports = [e for e in events(rclient, prefix) if e.get("report") == "gaps"]
        assert reports and reports[0]["gaps"] > 0 and reports[0]["missing"] > 0

        def gbp_1m_samples():
            reports = [e for e in events(rclient, prefix) if e.get("report") == "gaps"]
            return [s for r in reports for s in r["samples"] if s[0] == "GBPUSD_otc" and s[1] == "1m"]

        # Gaps are reported at most every 10 s: the real one may come with the second report.
        gbp_1m = wait_for(gbp_1m_samples, timeout=40, what="the 1m gap between the two files reported")
        # The 18 whole minutes between the two files without a tick.
        assert gbp_1m[0] == ["GBPUSD_otc", "1m", 1781424360, 1781425500, 18]
        for p in range(4):
            g = next(g for g in groups(rclient, keys.ticks(p)) if g.name == "candles")
            assert g.pending == 0 and g.lag == 0
    finally:
        assert stop_worker(proc) == 0


def test_quiet_asset_gets_its_last_candle_closed_by_the_wall_clock(rclient, prefix, test_env, tmp_path):
    now = time.time()
    start = (now // 5) * 5 - 10
    ticks = [("EURUSD_otc", start + 0.5 * k, 1.1 + k / 1e4) for k in range(int((now - start) / 0.5))]
    publish(rclient, prefix, ticks)
    proc = start_worker(test_env, log=tmp_path / "w.log", QF_TIMEFRAMES="5s", QF_CLOSE_GRACE="0.5")
    want = truth(ticks, (5,))
    try:
        wait_for(lambda: len(read_bars(rclient, prefix, (5,))) >= len(want), timeout=30, what="last bar")
        assert bars_by_key(read_bars(rclient, prefix, (5,))) == want
    finally:
        assert stop_worker(proc) == 0


@pytest.mark.slow
def test_sigkill_at_random_points_then_restart_gives_every_bar_exactly_once(
    rclient, prefix, test_env, tmp_path
):
    assets = ["EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc", "ETHUSD", "EURGBP_otc", "USDCHF_otc"]
    assert len(by_asset_partition(assets)) == 4
    ticks = synthetic(assets, 6000, seed=7)
    sent = sentinels_for(ticks)
    # The sentinels' own candles must stay forming however slow the machine is: no wall-clock close.
    env = dict(
        test_env, QF_TIMEFRAMES="5s,1m", QF_CANDLES_LEASE="1.5", QF_CANDLES_BATCH="300", QF_CLOSE_GRACE="3600"
    )
    rnd = random.Random(42)
    producer = Producer(rclient, prefix, ticks)
    producer.start()
    kills = 0
    keys = Keys(prefix)

    def working(name):
        # A new name each time: every replacement waits for the dead worker's leases.
        held = rclient.mget([keys.private("candles", "lease", p) for p in range(4)])
        return any(v is not None and v.decode().startswith(f"{name}#") for v in held)

    proc = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE="w0")
    try:
        seen = []  # bars written before each kill: the kills must land mid-stream
        while producer.is_alive() or kills < 4:
            # However slow the machine is to start a process, each kill lands while it works.
            name = f"w{kills}"
            wait_for(lambda: working(name), timeout=30, every=0.05, what="the worker holding a lease")  # noqa: B023
            time.sleep(rnd.uniform(0.1, 1.2))
            seen.append(len(read_bars(rclient, prefix, (5, 60))))
            stop_worker(proc, signal.SIGKILL)
            kills += 1
            proc = start_worker(env, log=tmp_path / "w.log", QF_INSTANCE=f"w{kills}")
        producer.join()
        publish(rclient, prefix, sent)
        want = closed_truth(ticks, (5, 60), sent)
        # Once every tick is applied, anything written twice is there to see.
        wait_for(lambda: done(rclient, prefix, (5, 60), want), timeout=90, what="every tick applied")
        assert_same_bars(bars_by_key(read_bars(rclient, prefix, (5, 60))), want)
        assert any(0 < n < len(want) for n in seen), seen
    finally:
        stop_worker(proc)


@pytest.mark.slow
def test_second_worker_takes_a_fair_share_then_all_partitions_when_the_first_dies(
    rclient, prefix, test_env, tmp_path
):
    assets = ["EURUSD_otc", "GBPUSD_otc", "AUDCAD_otc", "ETHUSD", "EURGBP_otc", "USDCHF_otc"]
    env = dict(test_env, QF_TIMEFRAMES="5s,1m", QF_CANDLES_LEASE="2", QF_CLOSE_GRACE="3600")

    def owners():
        return {tuple(sorted(b.get("partitions", []))) for b in heartbeats(rclient, prefix)}

    a = start_worker(env, log=tmp_path / "a.log", QF_INSTANCE="worker-a")
    b = None
    try:
        wait_for(lambda: owners() == {(0, 1, 2, 3)}, timeout=20, what="first worker owning everything")
        b = start_worker(env, log=tmp_path / "b.log", QF_INSTANCE="worker-b")

        def split():
            held = owners()
            return sorted(len(o) for o in held) == [2, 2] and set().union(*held) == {0, 1, 2, 3}

        wait_for(split, timeout=30, what="a 2/2 split")
        ticks = synthetic(assets, 4000, seed=3)
        sent = sentinels_for(ticks)
        producer = Producer(rclient, prefix, ticks)
        producer.start()
        # Killed mid-stream: some bars written, more ticks still coming.
        wait_for(lambda: read_bars(rclient, prefix, (5,)), timeout=30, what="first bars")
        assert producer.is_alive()
        stop_worker(a, signal.SIGKILL)
        producer.join()
        wait_for(lambda: owners() == {(0, 1, 2, 3)}, timeout=20, what="the survivor owning everything")
        publish(rclient, prefix, sent)
        want = closed_truth(ticks, (5, 60), sent)
        wait_for(lambda: done(rclient, prefix, (5, 60), want), timeout=60, what="every tick applied")
        assert_same_bars(bars_by_key(read_bars(rclient, prefix, (5, 60))), want)
    finally:
        stop_worker(a, signal.SIGKILL)
        if b is not None:
            assert stop_worker(b) == 0


def test_history_batches_before_overlapping_and_after_live_ticks(rclient, prefix, test_env, tmp_path):
    asset = "EURUSD_otc"
    t0 = 1_781_438_400
    c = lambda t, p: [t, p, p + 0.01, p - 0.01, p]  # noqa: E731
    # Before any live tick: 10 broker minutes.
    publish_history(rclient, prefix, HistoryBatch(asset, 60, tuple(c(t0 + 60 * k, 1.0) for k in range(10))))
    live = [(asset, t0 + 600 + 2.0 * k, 2.0 + k / 1000) for k in range(120)]  # minutes 10..13
    publish(rclient, prefix, live[:60])
    # Overlapping: broker candles for minutes 0..14 with other prices: nothing already held changes.
    publish_history(
        rclient, prefix, HistoryBatch(asset, 60, tuple(c(t0 + 60 * k, 5.0) for k in range(-5, 15)))
    )
    publish(rclient, prefix, live[60:])
    # After: a batch whose ticks run on past the live ones extends the live candles.
    extra = tuple((t0 + 600 + 240 + 2.0 * k, 3.0) for k in range(40))
    publish_history(rclient, prefix, HistoryBatch(asset, 60, (tuple(c(t0 + 660, 9.0)),), extra))
    sent = [(asset, t0 + 80_000.0, 1.0)]
    publish(rclient, prefix, sent)
    proc = start_worker(test_env, log=tmp_path / "w.log", QF_TIMEFRAMES="1m")
    # Live mode: with no live tick yet, the wall clock says all ten broker minutes are over.
    want = {(asset, 60, t0 + 60 * k): (1.0, 1.01, 0.99, 1.0, 0) for k in range(10)}
    want.update({(asset, 60, t0 + 60 * k): (5.0, 5.01, 4.99, 5.0, 0) for k in range(-5, 0)})
    want.update(closed_truth(live + [(asset, ts, p) for ts, p in extra], (60,), sent))
    try:
        wait_for(lambda: done(rclient, prefix, (60,), want), timeout=30, what="every tick applied")
        assert bars_by_key(read_bars(rclient, prefix, (60,))) == want
    finally:
        assert stop_worker(proc) == 0


def test_bad_entries_are_counted_and_skipped(rclient, prefix, test_env, tmp_path):
    keys = Keys(prefix)
    good = [("EURUSD_otc", 1_781_438_400.0 + k, 1.0 + k / 100) for k in range(130)]
    publish(rclient, prefix, good[:50])
    stream = keys.stream_of_ticks("EURUSD_otc", 4)
    rclient.xadd(stream, {"d": b"\xc1not msgpack"})
    rclient.xadd(stream, {"x": b"no d"})
    rclient.xadd(
        stream, {"d": msgpack.packb({"v": 99, "kind": "tick", "asset": "EURUSD_otc", "ts": 1.0, "price": 1})}
    )
    rclient.xadd(
        stream,
        {"d": msgpack.packb({"v": 1, "kind": "tick", "asset": "EURUSD_otc", "ts": 1e9 * 3, "price": 1})},
    )
    rclient.xadd(
        stream, {"d": msgpack.packb({"v": 1, "kind": "tick", "asset": "EURUSD_otc", "ts": "x", "price": 1})}
    )
    publish(rclient, prefix, good[50:])
    proc = start_worker(test_env, log=tmp_path / "w.log", QF_TIMEFRAMES="1m", QF_CANDLES_REPLAY="1")
    want = truth(good, (60,))
    want.pop(max(want))  # replay mode: the last candle stays forming
    try:
        wait_for(lambda: len(read_bars(rclient, prefix, (60,))) >= len(want), timeout=30, what="bars")
        assert bars_by_key(read_bars(rclient, prefix, (60,))) == want

        def counted():
            beats = heartbeats(rclient, prefix)
            return beats and sum(v for k, v in beats[0].items() if k.startswith(("bad", "unknown"))) == 5

        wait_for(counted, timeout=10, what="bad entries counted")
    finally:
        assert stop_worker(proc) == 0


def test_cli_module_imports_light():
    # `qf --help` must not pay for the worker: the command module imports no Redis client.
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", "import quantumflux.candles.cli, sys; print('redis' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_a_broken_output_key_loses_only_that_output_and_duplicates_nothing(
    rclient, prefix, test_env, tmp_path
):
    ticks = [("EURUSD_otc", 1_781_438_400.0 + k, 1.0 + k / 100) for k in range(200)]
    publish(rclient, prefix, ticks)
    rclient.set(Keys(prefix).series("EURUSD_otc", 60), "someone else's string")
    proc = start_worker(test_env, log=tmp_path / "w.log", QF_TIMEFRAMES="1m", QF_CANDLES_REPLAY="1")
    want = truth(ticks, (60,))
    want.pop(max(want))
    try:
        wait_for(lambda: done(rclient, prefix, (60,), want), timeout=30, what="every tick applied")
        assert_same_bars(bars_by_key(read_bars(rclient, prefix, (60,))), want)
        wait_for(
            lambda: any(b.get("write_errors") for b in heartbeats(rclient, prefix)),
            timeout=10,
            what="counted",
        )
    finally:
        assert stop_worker(proc) == 0
