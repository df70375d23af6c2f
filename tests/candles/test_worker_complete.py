"""The candle worker on the real Redis: which bars are complete, through capture and worker restarts."""

from __future__ import annotations

import signal

import msgpack

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import CaptureMark, HistoryBatch, pack

from .support import (
    caught_up,
    publish,
    publish_history,
    read_bars,
    start_worker,
    stop_worker,
    truth,
    wait_for,
)

T0 = 1_781_438_400.0  # 2026-06-14 12:00 UTC
TFS = (5, 60, 300)
TF_ENV = "5s,1m,5m"
ASSETS = ("EURUSD_otc", "AUDCAD_otc", "BTCUSD")


def publish_mark(client, prefix: str, mark: CaptureMark, partitions: int = 4) -> None:
    """A capture mark on every tick partition, as ingest sends it."""
    keys = Keys(prefix)
    for p in range(partitions):
        client.xadd(keys.ticks(p), {"d": pack(mark)})


def session(client, prefix: str, start: float, end: float) -> tuple[list, tuple[float, float]]:
    """One capture run: ``start``, ticks of every asset every 0.5 s and ``alive`` every second.

    Returns the ticks and (start, newest time seen) for the model.
    """
    publish_mark(client, prefix, CaptureMark("start", start))
    ticks = []
    ts = start + 0.25
    next_alive = start + 1.0
    while ts <= end:
        batch = [(a, round(ts + i * 0.01, 3), 1.0 + ((ts - T0) % 97) / 1e3 + i) for i, a in enumerate(ASSETS)]
        publish(client, prefix, batch)
        ticks += batch
        ts += 0.5
        if ts >= next_alive:
            publish_mark(client, prefix, CaptureMark("alive", next_alive))
            next_alive += 1.0
    seen = max(next_alive - 1.0, max(t for _a, t, _p in ticks))
    return ticks, (start, seen)


def expected(ticks, sessions):
    """Ground truth of the bars, with the completeness of the capture-session model."""
    want = truth(ticks, TFS)
    return {
        k: (*ohlcn, any(s <= k[2] and seen >= k[2] + k[1] for s, seen in sessions))
        for k, ohlcn in want.items()
    }


def bars_with_flags(client, prefix):
    got = {}
    for b in read_bars(client, prefix, TFS):
        k = (b["asset"], b["tf"], b["time"])
        assert k not in got, f"bar written twice: {k}"
        got[k] = (b["open"], b["high"], b["low"], b["close"], b["ticks"], b["complete"])
    return got


def test_bars_after_a_start_and_across_a_capture_restart_say_whether_they_are_whole(
    rclient, prefix, test_env, tmp_path
):
    # Capture starts 12.3 s into the first minute, dies after 12:02:20 and is back at 12:02:30.7;
    # the candle worker itself is stopped half-way and continues from its saved state.
    first, s1 = session(rclient, prefix, T0 + 12.3, T0 + 140.2)
    log = tmp_path / "w.log"
    proc = start_worker(test_env, log=log, QF_TIMEFRAMES=TF_ENV, QF_CLOSE_GRACE="3600")
    try:
        wait_for(lambda: caught_up(rclient, prefix), timeout=60, what="the first run applied")
    finally:
        assert stop_worker(proc, signal.SIGKILL) == -signal.SIGKILL
    second, s2 = session(rclient, prefix, T0 + 150.7, T0 + 421.0)
    # Capture dies after 12:07 and restarts at 12:11:40: that closes every candle, the old
    # coverage judging them (no tick will ever come for them now).
    publish_mark(rclient, prefix, CaptureMark("start", T0 + 700.0))
    want = expected(first + second, [s1, s2])
    proc = start_worker(test_env, log=log, QF_TIMEFRAMES=TF_ENV, QF_CLOSE_GRACE="3600")
    try:
        wait_for(
            lambda: len(read_bars(rclient, prefix, TFS)) >= len(want) and caught_up(rclient, prefix),
            timeout=60,
            what="every tick applied",
        )
        got = bars_with_flags(rclient, prefix)
    finally:
        assert stop_worker(proc) == 0
    assert got == want
    # What that means, in words: the first candle of each timeframe, and those the break fell
    # in, are incomplete; every other one is whole and exact.
    broken = {(tf, int(t)) for (a, tf, t), v in got.items() if a == "EURUSD_otc" and not v[5]}
    assert broken == {
        *((5, T0 + t) for t in (10, 140, 150, 420)),  # the start, the break, the end
        *((60, T0 + t) for t in (0, 120, 420)),
        *((300, T0 + t) for t in (0, 300)),
    }
    assert sum(1 for v in got.values() if v[5]) > 100


def test_complete_and_volume_reach_the_updates_stream_and_the_series(rclient, prefix, test_env, tmp_path):
    keys = Keys(prefix)
    asset = "EURUSD_otc"
    c = [(int(T0) - 60 * k, 1.0, 1.01, 0.99, 1.0, 90 + k) for k in range(5, 0, -1)]
    publish_history(rclient, prefix, HistoryBatch(asset, 60, tuple(c)))
    ticks, _ = session(rclient, prefix, T0 + 5.0, T0 + 130.0)
    proc = start_worker(test_env, log=tmp_path / "w.log", QF_TIMEFRAMES="1m", QF_CLOSE_GRACE="3600")
    try:
        wait_for(
            lambda: caught_up(rclient, prefix) and len(read_bars(rclient, prefix, (60,))) >= 7, what="bars"
        )
    finally:
        assert stop_worker(proc) == 0
    series = [msgpack.unpackb(m) for m in rclient.zrange(keys.series(asset, 60), 0, -1)]
    got = {(s["time"], s["complete"], s.get("volume")) for s in series}
    assert got == {
        *((int(T0) - 60 * k, True, 90 + k) for k in range(1, 6)),
        (int(T0), False, None),
        (int(T0) + 60, True, None),
    }
    updates = [msgpack.unpackb(f[b"d"]) for _i, f in rclient.xrange(keys.candles(60))]
    mine = [u for u in updates if u["asset"] == asset]
    assert {(u["time"], u["closed"], u["complete"]) for u in mine if u["time"] == T0 + 120} == {
        (int(T0) + 120, False, True)
    }
    assert all(not u["complete"] for u in mine if u["time"] == T0)
    assert len(ticks) > 0
