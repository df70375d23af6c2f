"""The simulated market on its own: seeded, realistic spacing, history consistent with its ticks."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter

import pytest

from quantumflux.bus.records import Event, HistoryBatch, Tick
from quantumflux.ingest.decoder import Decoder
from quantumflux.sim.feed import SimFeed, as_frames, asset_names

START = 1781423520.0


def run(seed: int, seconds: float, **kw: object) -> list[tuple[str, float, float]]:
    feed = SimFeed(seed=seed, start=START, **kw)  # type: ignore[arg-type]
    out = []
    # step in uneven increments: what comes out must not depend on how often we ask
    now = START
    i = 0
    while now < START + seconds:
        now += 0.05 + (i % 7) * 0.11
        i += 1
        out += [(t.asset, t.ts, t.price) for t in feed.step(now)]
    return out


def test_same_seed_same_ticks_whatever_the_step_size() -> None:
    a = run(7, 60, assets=3)
    feed = SimFeed(seed=7, assets=3, start=START)
    b = [(t.asset, t.ts, t.price) for t in feed.step(START + 60)]
    a = [x for x in a if x[1] <= START + 60]
    assert a == b
    assert len({x[0] for x in a}) == 3
    assert a != run(8, 60, assets=3)


def test_adding_an_asset_does_not_change_the_others() -> None:
    two = [x for x in run(3, 30, assets=["EURUSD_otc", "GBPUSD_otc"]) if x[0] == "GBPUSD_otc"]
    one = run(3, 30, assets=["GBPUSD_otc"])
    assert two == one


def test_spacing_and_prices_look_like_the_real_captures() -> None:
    feed = SimFeed(seed=1, assets=["GBPUSD_otc"], start=START)
    ticks = feed.step(START + 600)
    rate = len(ticks) / 600
    assert 1.9 <= rate <= 2.5  # real: 2.06 to 2.3 per second
    gaps = [round(b.ts - a.ts, 1) for a, b in itertools.pairwise(ticks)]
    assert statistics.median(gaps) == 0.5
    share = Counter(gaps)
    assert 0.6 <= share[0.5] / len(gaps) <= 0.8  # real: about 73 %
    assert share[0.2] + share[0.3] > 0.1 * len(gaps)
    changed = sum(a.price != b.price for a, b in itertools.pairwise(ticks)) / len(gaps)
    assert 0.6 <= changed <= 0.85  # real: about 72 %
    assert all(round(t.price, 5) == t.price and round(t.ts, 3) == t.ts for t in ticks)
    # the extra tick repeats the price of the tick before it
    quick = [(a, b) for a, b in itertools.pairwise(ticks) if b.ts - a.ts < 0.35]
    assert sum(a.price == b.price for a, b in quick) > 0.5 * len(quick)


def test_rate_scales_the_spacing() -> None:
    feed = SimFeed(seed=1, assets=1, rate=50, start=START)
    n = len(feed.step(START + 10))
    assert 450 <= n <= 650


def test_history_candles_are_made_of_its_ticks_newest_first() -> None:
    feed = SimFeed(seed=2, assets=2, start=START)
    feed.step(START + 30)
    body = feed.history_body("EURUSD_otc", 60)
    assert body is not None and body["asset"] == "EURUSD_otc" and body["period"] == 60
    hist = body["history"]
    assert 800 <= hist[-1][0] - hist[0][0] <= 930  # about 15 minutes
    assert hist[-1][0] - 7200 <= START + 30
    # independent aggregation, broker clock, [t, open, close, high, low]
    expect: dict[int, list[float]] = {}
    for t, p in hist:
        b = int(t // 60 * 60)
        if b not in expect:
            expect[b] = [b, p, p, p, p]
        else:
            c = expect[b]
            c[2], c[3], c[4] = p, max(c[3], p), min(c[4], p)
    assert body["candles"] == [expect[b] for b in sorted(expect, reverse=True)]
    assert feed.history_body("NOPE_otc", 60) is None


def test_the_decoder_reads_the_feed_exactly() -> None:
    feed = SimFeed(seed=5, assets=4, start=START)
    ticks = feed.step(START + 20)
    frames = as_frames([("updateAssets", feed.assets_body())], ts=START, socket="s")
    for t in ticks:
        frames += as_frames([("updateStream", feed.update_stream(t))], ts=t.ts + 0.002, socket="s")
    frames += as_frames([("updateHistoryNewFast", feed.history_body("AUDCAD_otc", 300))], ts=START + 21)
    dec = Decoder()
    out = [r for f in frames for r in dec.feed(f)]
    assert [(r.asset, r.ts, r.price) for r in out if isinstance(r, Tick)] == [
        (t.asset, t.ts, t.price) for t in ticks
    ]
    [assets] = [r for r in out if isinstance(r, Event) and r.type == "assets"]
    assert [a["asset"] for a in assets.data["assets"]] == feed.assets
    assert all(80 <= a["payout"] <= 92 for a in assets.data["assets"])
    [batch] = [r for r in out if isinstance(r, HistoryBatch)]
    assert batch.asset == "AUDCAD_otc" and batch.period == 300
    assert [c[0] for c in batch.candles] == sorted(c[0] for c in batch.candles)
    assert not [k for k in dec.counters if k.startswith(("malformed", "unknown"))]


def test_asset_choices() -> None:
    assert asset_names(2) == ["EURUSD_otc", "GBPUSD_otc"]
    assert asset_names("FOO_otc, BAR_otc") == ["FOO_otc", "BAR_otc"]
    for bad in ("0", "99", "", "A,A"):
        with pytest.raises(ValueError):
            asset_names(bad)
    feed = SimFeed(seed=1, assets="FOO_otc", start=START)
    assert feed.step(START + 2)[0].asset == "FOO_otc"


def test_steady_ticks_sit_a_tenth_of_a_spacing_before_each_whole_spacing() -> None:
    feed = SimFeed(seed=3, assets=2, rate=1.0, start=1_000_000.3, steady=True)
    ticks = feed.step(1_000_060.0)
    for asset in feed.assets:
        times = [t.ts for t in ticks if t.asset == asset]
        assert times == [round(1_000_000.9 + k, 3) for k in range(60)]
    fast = SimFeed(seed=3, assets=1, rate=4.0, start=1_000_000.0, steady=True).step(1_000_002.0)
    assert [t.ts for t in fast][:4] == [1_000_000.225, 1_000_000.475, 1_000_000.725, 1_000_000.975]
