"""The pure core: candle by candle through windows and paper books equals the backtest on all candles."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from quantumflux.backtest.engine import EngineConfig, run
from quantumflux.backtest.strategies import get_strategy
from quantumflux.signals.paper import Paper, Rules
from quantumflux.signals.runner import GAP, LATE, Window, decide, frame_of
from quantumflux.signals.spec import parse_text
from tests.signals.candles import random_walk, real_candles


def live(rows, strategy, params, rules, tf=60, cap=100_000, payout=None):
    """Feed candles one at a time as the service does; the signals and the settled contracts."""
    w = Window(tf, cap)
    paper = Paper(rules)
    signals, settled, voided = [], [], 0
    for row in rows:
        how = w.add(row)
        assert how != LATE
        for ev in paper.on_candle("A", tf, row[0], row[4], how == GAP):
            if ev.kind == "settle":
                settled.append(ev)
            else:
                voided += 1
        d, c = decide(strategy, params, w.frame())
        if d:
            signals.append((row[0], d, c))
            book = paper.book("k", "A", tf, "1m")
            paper.on_signal(book, row[0], row[4], d, c, rules.payout if payout is None else payout)
    return signals, settled, voided


def backtest(rows, strategy, params, config, tf=60):
    df = frame_of(rows)
    sig = strategy.signals(df, **params)
    idx = np.flatnonzero(sig.direction)
    signals = [(int(df["time"][i]), int(sig.direction[i]), float(sig.confidence[i])) for i in idx]
    trades = run(df["time"].to_numpy(), df["close"].to_numpy(), sig.direction, sig.confidence, config, tf)
    return signals, trades.rows()


def same_trades(settled, expected):
    fields = (
        "entry_time",
        "expiry_time",
        "direction",
        "confidence",
        "entry_price",
        "expiry_price",
        "outcome",
        "stake",
        "pnl",
        "balance",
    )
    got = [{k: getattr(e, k) for k in fields} for e in settled]
    want = [{k: t[k] for k in got[0]} for t in expected] if got else []
    assert len(settled) == len(expected)
    assert got == want  # exact: the same floats, not close ones


CASES = [
    ("sma_cross", {"fast": 3, "slow": 8}, dict(expiry=1)),
    ("sma_cross", {"fast": 5, "slow": 20}, dict(expiry=3, fraction=0.05)),
    ("rsi_reversal", {}, dict(expiry=2, stake=2.5)),
    ("macd_cross", {}, dict(expiry=1, overlap=True)),
    ("bollinger_reversal", {}, dict(expiry=2, payout=0.8)),
    ("quantum_flux", {}, dict(expiry=1)),
    ("quantum_flux", {"threshold": 0.5}, dict(expiry=5, min_confidence=0.6, fraction=0.02)),
    ("quantum_flux", {"threshold": 0.5}, dict(expiry=2, overlap=True)),
]


@pytest.mark.parametrize(("name", "params", "engine"), CASES)
def test_live_equals_backtest_on_a_random_walk_with_gaps(name, params, engine):
    rows = random_walk(700, seed=7, gaps=(150, 151, 400))
    strategy = get_strategy(name)
    rules = Rules(**engine)
    config = EngineConfig(**engine)
    want_signals, want_trades = backtest(rows, strategy, strategy.resolve(params), config)
    got_signals, settled, _ = live(rows, strategy, strategy.resolve(params), rules)
    assert len(want_signals) > 5 and len(want_trades) > 3
    assert got_signals == want_signals
    same_trades(settled, want_trades)


def test_live_equals_backtest_on_real_ticks(po_data: Path):
    rows = real_candles(po_data)
    times = [r[0] for r in rows]
    assert any(b - a > 60 for a, b in itertools.pairwise(times))  # the real data has a gap
    strategy = get_strategy("sma_cross")
    params = strategy.resolve({"fast": 2, "slow": 4})
    want_signals, want_trades = backtest(rows, strategy, params, EngineConfig(expiry=1))
    got_signals, settled, _ = live(rows, strategy, params, Rules(expiry=1))
    assert got_signals == want_signals and want_signals
    same_trades(settled, want_trades)


def test_a_capped_window_still_decides_as_the_backtest():
    """Past the cap the oldest candles go; a window of the lookback still gives the same decisions."""
    rows = random_walk(900, seed=11)
    strategy = get_strategy("quantum_flux")
    params = strategy.resolve({})
    cap = strategy.lookback(params)
    want, _ = backtest(rows, strategy, params, EngineConfig())
    got, _, _ = live(rows, strategy, params, Rules(), cap=cap)
    assert [(t, d) for t, d, _ in got] == [(t, d) for t, d, _ in want]
    assert np.allclose([c for *_, c in got], [c for *_, c in want], rtol=0, atol=1e-9)


def test_window_reports_gaps_and_late_candles():
    w = Window(60, cap=3)
    assert w.add((60, 1, 1, 1, 1, 1)) != GAP
    assert w.add((120, 1, 1, 1, 1, 1)) != GAP
    assert w.add((300, 1, 1, 1, 1, 1)) == GAP
    assert w.add((300, 2, 2, 2, 2, 1)) == LATE
    assert w.add((240, 2, 2, 2, 2, 1)) == LATE
    w.add((360, 1, 1, 1, 1, 1))
    assert [r[0] for r in w.rows] == [120, 300, 360]


def test_window_keeps_the_newest_candles_through_many_appends_and_resizes():
    w = Window(60, cap=7)
    for k in range(100):
        w.add((60 * k, float(k), float(k), float(k), float(k), k))
        assert [r[0] for r in w.rows] == [60 * j for j in range(max(0, k - 6), k + 1)]
    assert list(w.frame()["close"]) == [float(j) for j in range(93, 100)]
    w.resize(3)
    assert [r[5] for r in w.rows] == [97, 98, 99]
    w.resize(10)
    w.add((6000, 1.0, 1.0, 1.0, 1.0, 1))
    assert [r[5] for r in w.rows] == [97, 98, 99, 1] and w.frame()["time"].dtype == "int64"
    big = Window(60, cap=100)
    for k in range(1000):
        big.add((60 * k, float(k), float(k), float(k), float(k), k))
        assert [r[5] for r in big.rows] == list(range(max(0, k - 99), k + 1))


def test_paper_state_survives_a_round_trip():
    rows = random_walk(300, seed=3)
    strategy = get_strategy("sma_cross")
    params = strategy.resolve({"fast": 3, "slow": 8})
    rules = Rules(expiry=4, fraction=0.1)
    # Stop half way, save, rebuild, go on: the same as never stopping.
    w = Window(60, 10_000)
    paper = Paper(rules)
    events = []
    for k, row in enumerate(rows):
        if k == 150:
            paper = Paper.from_state(rules, paper.to_state())
        how = w.add(row)
        events += paper.on_candle("A", 60, row[0], row[4], how == GAP)
        d, c = decide(strategy, params, w.frame())
        if d:
            ev = paper.on_signal(paper.book("k", "A", 60, "1m"), row[0], row[4], d, c, 0.92)
            events += [ev] if ev else []
    _, want = backtest(rows, strategy, params, EngineConfig(expiry=4, fraction=0.1))
    same_trades([e for e in events if e.kind == "settle"], want)


def test_strategies_text_is_read_with_clear_errors():
    runs = parse_text("quantum_flux@*:1m; sma_cross(fast=5,slow=20)@EURUSD_otc,GBPUSD_otc:1m,5m")
    assert [r.key for r in runs] == ["quantum_flux", "sma_cross"]
    assert runs[0].covers("ANY", 60) and not runs[0].covers("ANY", 300)
    assert runs[1].covers("GBPUSD_otc", 300) and not runs[1].covers("AUDUSD_otc", 60)
    assert parse_text("sma_cross(fast=3)@*:1m")[0].key == "sma_cross(fast=3)"
    for bad, words in [
        ("nosuch@*:1m", "unknown strategy"),
        ("sma_cross(fast=30)@*:1m", "fast must be smaller than slow"),
        ("sma_cross@*", "assets:timeframes"),
        ("sma_cross@*:7q", "not a timeframe"),
        ("sma_cross(fast)@*:1m", "name=value"),
        ("sma_cross", "strategy@assets:timeframes"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_text(bad)
