"""Backtests on incomplete candles (left out exactly like missing ones) and on the payout history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from quantumflux.backtest import runner
from quantumflux.backtest.strategies import get_strategy
from quantumflux.bus.records import Candle, Payout
from quantumflux.files import datasets
from quantumflux.files.columns import header_line
from quantumflux.files.layout import candle_file, payout_file
from quantumflux.files.rows import RowFormatter

ROOT = Path(__file__).resolve().parents[2]
T0 = 1795835100  # 2026-11-28T03:05:00Z, a whole minute
SESSION = "20261128T030000Z"
SMA = {"fast": 3, "slow": 8}


def walk(n: int, seed: int) -> list[tuple[int, float]]:
    rng = np.random.default_rng(seed)
    close = (110_000 + np.cumsum(rng.integers(-3, 4, n))) / 100_000
    return [(T0 + 60 * i, float(c)) for i, c in enumerate(close)]


def write_dataset(data: Path, asset: str, rows: list[tuple[int, float]], incomplete: set[int]) -> None:
    fmt = RowFormatter()
    path = candle_file(data, asset, 60, SESSION, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        fmt.candle(Candle(asset, 60, t, c, c, c, c, 1, True, complete=t not in incomplete)) for t, c in rows
    ]
    path.write_text(header_line("candles") + "".join(lines))


def run(data: Path, ds_id: str, **extra: object) -> dict:
    request = runner.BacktestRequest(datasets=[ds_id], strategy="sma_cross", params=SMA, **extra)
    ds = datasets.lookup(datasets.discover(data), ds_id)
    return runner.execute(request, [ds], get_strategy("sma_cross"))["results"][0]


def test_an_incomplete_candle_is_traded_exactly_as_a_missing_one(tmp_path: Path) -> None:
    rows = walk(600, seed=3)
    rng = np.random.default_rng(4)
    picked = {rows[int(i)][0] for i in rng.choice(np.arange(20, 580), size=25, replace=False)}
    write_dataset(tmp_path, "MARKED_otc", rows, incomplete=picked)
    write_dataset(tmp_path, "MISSING_otc", [r for r in rows if r[0] not in picked], incomplete=set())
    write_dataset(tmp_path, "WHOLE_otc", rows, incomplete=set())

    marked = run(tmp_path, "MARKED_otc-1m")
    missing = run(tmp_path, "MISSING_otc-1m")
    assert marked["trades"] == missing["trades"]
    assert marked["metrics"] == missing["metrics"]
    assert marked["dataset"]["data"]["incomplete_skipped"] == 25
    assert marked["metrics"]["skipped_gaps"] > 0  # the holes did void some contracts
    assert not {t["entry_time"] for t in marked["trades"]} & picked

    # Kept on request, they are ordinary candles again.
    kept = run(tmp_path, "MARKED_otc-1m", include_incomplete=True)
    whole = run(tmp_path, "WHOLE_otc-1m")
    assert kept["trades"] == whole["trades"] and kept["dataset"]["data"]["incomplete_skipped"] == 0
    assert kept["trades"] != marked["trades"]


def write_payouts(data: Path, asset: str, changes: list[tuple[float, float]]) -> None:
    path = payout_file(data, asset, SESSION, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(RowFormatter.payout(Payout(asset, t, p, True)) for t, p in changes)
    path.write_text(header_line("payouts") + body)


def expected_pnl(trades: list[dict], changes: list[tuple[float, float]], fixed: float) -> list[float]:
    """Each trade's profit with the payout in force at its entry, written as a plain loop."""
    out = []
    for t in trades:
        payout = fixed
        for when, percent in sorted(changes):
            if when <= t["entry_time"]:
                payout = percent / 100
        out.append(t["stake"] * (payout if t["outcome"] > 0 else -1.0 if t["outcome"] < 0 else 0.0))
    return out


def test_payout_history_pays_each_trade_the_payout_in_force(tmp_path: Path) -> None:
    asset = "EURUSD_otc"
    rows = walk(500, seed=7)
    write_dataset(tmp_path, asset, rows, incomplete=set())
    # The first change comes after some trades: those take the fixed payout. The second falls
    # exactly on a candle's time: a change at the entry time is in force for it.
    changes = [(T0 + 60 * 120 + 0.5, 92.0), (T0 + 60 * 250, 80.0), (T0 + 60 * 380 + 30.25, 87.5)]
    write_payouts(tmp_path, asset, changes)

    result = run(tmp_path, f"{asset}-1m", payout_mode="history", payout=0.7)
    trades = result["trades"]
    want = expected_pnl(trades, changes, fixed=0.7)
    assert len(trades) > 30
    assert [t["pnl"] for t in trades] == want
    assert np.allclose([t["balance"] for t in trades], 1000 + np.cumsum(want))
    used = [next((p / 100 for w, p in reversed(changes) if w <= t["entry_time"]), 0.7) for t in trades]
    before = sum(1 for t in trades if t["entry_time"] < changes[0][0])
    info = result["payout"]
    assert before > 0 and info["fixed_trades"] == before
    assert (info["mode"], info["changes"], info["fixed_payout"]) == ("history", 3, 0.7)
    assert (info["min"], info["max"]) == (min(used), max(used))
    assert abs(info["avg"] - sum(used) / len(used)) < 1e-12
    assert f"{before} trades before the first known change used the fixed 0.7" in info["text"]

    fixed = run(tmp_path, f"{asset}-1m", payout=0.7)
    assert fixed["payout"] == {"mode": "fixed", "payout": 0.7, "text": "fixed payout 0.7"}
    assert [t["entry_time"] for t in fixed["trades"]] == [t["entry_time"] for t in trades]
    assert [t["pnl"] for t in fixed["trades"]] != want

    # The command line says the same.
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "backtest", f"{asset}-1m", "--strategy", "sma_cross",
         "--param", "fast=3", "--param", "slow=8", "--payout", "history:0.7", "--json",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)["results"][0]
    assert cli["trades"] == trades and cli["payout"] == info
    table = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "backtest", f"{asset}-1m", "--strategy", "sma_cross",
         "--payout", "history", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "payout history: min" in table.stdout


def test_a_payout_that_is_neither_a_number_nor_history_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path, "EURUSD_otc", walk(50, seed=1), incomplete=set())
    out = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "backtest", "EURUSD_otc-1m", "--payout", "lots",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2 and "payout 'lots'" in out.stderr
