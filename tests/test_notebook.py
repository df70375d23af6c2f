"""The notebook API reads what is on disk: its frames equal the CSV rows as the csv module reads
them, and its backtest is the one the command line and the service run."""

from __future__ import annotations

import calendar
import csv
import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import quantumflux as qf
from quantumflux.files.layout import iter_data_files
from tests.files.chunks import Writer, walk

T0 = calendar.timegm((2026, 6, 30, 22, 0, 0))
ROOT = Path(__file__).resolve().parents[1]
QF = str(Path(sys.executable).parent / "qf")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("nb") / "data"
    w = Writer(folder)
    candles = walk(750, T0, 60)
    # Some candles with the broker's volume, some incomplete: every column has something to say.
    candles = [replace(c, volume=float(i * 10)) if i % 7 == 0 else c for i, c in enumerate(candles)]
    candles = [replace(c, complete=False) if i % 50 == 3 else c for i, c in enumerate(candles)]
    w.candles("EURUSD_otc", 60, candles)
    w.candles("EURUSD_otc", 300, walk(40, T0, 300, seed=2))
    w.ticks("EURUSD_otc", [T0 + 0.125 * i for i in range(2500)], [1.1 + (i % 11) * 1e-5 for i in range(2500)])
    return folder


def csv_rows(folder: Path, kind: str, tf: int | None) -> list[list[str]]:
    """Every row of the files of one series, in file order, as the csv module reads them."""
    files = sorted(
        (d for d in iter_data_files(folder) if d.kind == kind and d.tf == tf),
        key=lambda d: (d.session, d.chunk),
    )
    rows: list[list[str]] = []
    for d in files:
        with d.path.open(newline="") as fh:
            rows += list(csv.reader(fh))[1:]
    return rows


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def test_candles_are_the_rows_of_the_files(data: Path) -> None:
    frame = qf.candles("EURUSD_otc", "1m", data_dir=data)
    rows = csv_rows(data, "candles", 60)
    assert len(frame) == len(rows) == 750
    assert frame.index.name == "time" and str(frame.index.tz) == "UTC"
    assert list(frame.columns) == ["open", "high", "low", "close", "ticks", "volume", "complete"]
    for (when, got), row in zip(frame.iterrows(), rows, strict=True):
        assert when.timestamp() == epoch(row[0])
        assert [got.open, got.high, got.low, got.close] == [float(x) for x in row[1:5]]
        assert got.ticks == int(row[5]) and got.complete == int(row[7])
        assert (math.isnan(got.volume) and row[6] == "") or got.volume == float(row[6])


def test_a_time_range_keeps_start_and_leaves_out_end(data: Path) -> None:
    frame = qf.candles("EURUSD_otc", 60, start="2026-07-01", end=T0 + 60 * 300, data_dir=data)
    assert frame.index[0] == pd.Timestamp("2026-07-01", tz="UTC")
    assert frame.index[-1].timestamp() == T0 + 60 * 299 and len(frame) == 300 - 120
    five = qf.candles("EURUSD_otc", "5m", data_dir=data)
    assert [t.timestamp() for t in five.index] == [epoch(r[0]) for r in csv_rows(data, "candles", 300)]


def test_ticks_are_the_rows_of_the_files(data: Path) -> None:
    frame = qf.ticks("EURUSD_otc", data_dir=data)
    rows = csv_rows(data, "ticks", None)
    assert frame.index.name == "ts" and list(frame.columns) == ["price"] and len(frame) == len(rows) == 2500
    assert [t.timestamp() for t in frame.index] == [epoch(r[0]) for r in rows]
    assert frame["price"].tolist() == [float(r[1]) for r in rows]
    assert len(qf.ticks("EURUSD_otc", start=T0 + 10, end=T0 + 20, data_dir=data)) == 80


def test_datasets_list_what_qf_data_lists(data: Path) -> None:
    listed = qf.datasets(data)
    shown = json.loads(
        subprocess.run(
            [QF, "data", "--json", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    )["series"]
    assert listed[["asset", "timeframe", "rows", "files"]].to_dict("records") == [
        {k: s[k] for k in ("asset", "timeframe", "rows", "files")} for s in shown
    ]
    assert set(listed["dataset"].dropna()) == {"EURUSD_otc-1m", "EURUSD_otc-5m"}


def test_a_backtest_is_the_one_qf_backtest_runs(data: Path) -> None:
    result = qf.backtest("EURUSD_otc-1m", "sma_cross", fast=5, slow=20, expiry=2, data_dir=data)
    cli = subprocess.run(
        [QF, "backtest", "EURUSD_otc-1m", "-p", "fast=5", "-p", "slow=20", "--expiry", "2", "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=os.environ | {"QF_DATA_DIR": str(data)},
    )
    assert result == json.loads(cli.stdout)
    assert result["results"][0]["metrics"]["trades"] > 0
    # A frame from candles() backtests the same (incomplete candles are left out the same way).
    framed = qf.backtest(
        qf.candles("EURUSD_otc", "1m", data_dir=data), "sma_cross", fast=5, slow=20, expiry=2
    )
    assert framed["results"][0]["metrics"] == result["results"][0]["metrics"]
    assert framed["results"][0]["trades"] == result["results"][0]["trades"]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_the_dataset_for_other_tools(data: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"eurusd.{fmt}"
    subprocess.run(
        [QF, "export", "EURUSD_otc-1m", "--format", fmt, "--out", str(out), "--data-dir", str(data)],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    back = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
    rows = csv_rows(data, "candles", 60)
    assert len(back) == len(rows)
    if fmt == "csv":
        with out.open(newline="") as fh:
            assert list(csv.reader(fh))[1:] == rows  # the same cells as the files themselves
    else:
        assert [t.timestamp() for t in back["time"]] == [epoch(r[0]) for r in rows]
        assert back["close"].tolist() == [float(r[4]) for r in rows]


def test_importing_the_package_stays_cheap_and_the_names_work(data: Path) -> None:
    code = (
        "import sys, quantumflux as qf\n"
        "assert 'pandas' not in sys.modules\n"
        "import quantumflux.backtest.runner, quantumflux.candles.cli\n"
        f"print(len(qf.candles('EURUSD_otc', '1m', data_dir={str(data)!r})),"
        f" qf.backtest('EURUSD_otc-5m', data_dir={str(data)!r})['strategy'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["750", "sma_cross"]
