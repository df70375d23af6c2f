"""Market data and backtests for a notebook or a script, as pandas frames.

    import quantumflux as qf

    bars = qf.candles("EURUSD_otc", "5m", start="2026-06-01", end="2026-07-01")
    quotes = qf.ticks("EURUSD_otc", start="2026-06-14 10:00")
    qf.datasets()                  # what ``qf data`` lists, one row per series
    result = qf.backtest("EURUSD_otc-5m", "sma_cross", fast=5, slow=20, expiry=2)

Everything reads the data folder (``data_dir``, else ``QF_DATA_DIR``, else ``./data``) through
the Parquet archive, so a year of candles loads in a moment. Times are UTC; ``start`` is
included and ``end`` is not.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantumflux.bus.timeframes import parse_timeframe
from quantumflux.files import datasets as files
from quantumflux.files.columns import CANDLE_FIELDS
from quantumflux.files.layout import old_folders

__all__ = ["backtest", "candles", "datasets", "ticks"]

Frame = Any  # a pandas DataFrame (pandas has no type information)
# A time: ISO text (no zone means UTC), a datetime or pandas Timestamp, or epoch seconds.
When = str | float | datetime | None


def _folder(data_dir: str | os.PathLike[str] | None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    from quantumflux.bus.config import BusSettings

    return BusSettings().data_dir


def _seconds(value: When) -> float | None:
    """Epoch seconds of a time given as text, a timestamp or epoch seconds; no zone means UTC."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return float(ts.timestamp())


def _within(times: Any, start: float | None, end: float | None) -> Any:
    keep = np.ones(len(times), dtype=bool)
    if start is not None:
        keep &= times >= start
    if end is not None:
        keep &= times < end
    return keep


def candles(
    asset: str,
    timeframe: str | int,
    start: When = None,
    end: When = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> Frame:
    """An asset's candles at a timeframe (``"5m"`` or seconds): a frame indexed by ``time``
    (the candle's open, UTC) with open, high, low, close, ticks, volume and complete."""
    tf = parse_timeframe(timeframe) if isinstance(timeframe, str) else int(timeframe)
    folder = _folder(data_dir)
    # Only the persistence service's files at this timeframe: one folder listed, not all of them.
    ds = None if old_folders(folder) else files.find(folder, asset, tf)
    if ds is None:  # collected history to merge, a derived timeframe, or an error naming the datasets
        catalogue = files.discover(folder)
        ds_id = files.dataset_id(asset, tf, "collect")
        ds = files.lookup(catalogue, ds_id if ds_id in catalogue else files.dataset_id(asset, tf))
    lo, hi = _seconds(start), _seconds(end)
    frame, _ = files.load(ds, lo, hi)
    frame = frame[_within(frame["time"].to_numpy(), lo, hi)]
    index = pd.DatetimeIndex(pd.to_datetime(frame["time"].to_numpy(), unit="s", utc=True), name="time")
    return frame.drop(columns="time").set_index(index)


def ticks(
    asset: str, start: When = None, end: When = None, data_dir: str | os.PathLike[str] | None = None
) -> Frame:
    """An asset's ticks: a frame indexed by ``ts`` (UTC, to the millisecond) with ``price``."""
    lo, hi = _seconds(start), _seconds(end)
    frame = files.load_ticks(_folder(data_dir), asset, lo, hi)
    ts = frame["ts"].to_numpy()
    frame = frame[_within(ts, lo, hi)]
    millis = np.round(frame["ts"].to_numpy() * 1000).astype(np.int64)
    index = pd.DatetimeIndex(pd.to_datetime(millis, unit="ms", utc=True), name="ts")
    return frame.drop(columns="ts").set_index(index)


def datasets(data_dir: str | os.PathLike[str] | None = None) -> Frame:
    """What ``qf data`` lists, one row per asset and timeframe (and per asset's ticks), with the
    ``dataset`` id to backtest a candle series by."""
    from quantumflux.files.inventory import inventory

    folder = _folder(data_dir)
    rows = []
    for s in inventory(folder):
        row = asdict(s)
        row.pop("paths")
        tf = parse_timeframe(s.timeframe) if s.kind == "candles" else None
        row["dataset"] = files.dataset_id(s.asset, tf) if tf else None
        rows.append(row)
    return pd.DataFrame(rows)


def backtest(dataset_or_frame: str | Frame, strategy: str = "sma_cross", **params: Any) -> dict[str, Any]:
    """A backtest, the same result the backtest service answers (``qf backtest --json``).

    ``dataset_or_frame`` is a dataset id (``EURUSD_otc-5m``) or a frame from :func:`candles`.
    Keyword arguments that are settings of a run (``expiry``, ``payout``, ``stake``, ``grid``,
    ``monte_carlo``, …, and ``data_dir``) go to the run; the others are the strategy's parameters.
    """
    from quantumflux.backtest import runner
    from quantumflux.backtest.strategies import get_strategy

    folder = _folder(params.pop("data_dir", None))
    fields = set(runner.BacktestRequest.model_fields) - {"datasets", "strategy", "params"}
    settings = {k: params.pop(k) for k in list(params) if k in fields}
    chosen = get_strategy(strategy)
    if isinstance(dataset_or_frame, str):
        ds = files.lookup(files.discover(folder), dataset_or_frame)
        request = runner.BacktestRequest(datasets=[ds.id], strategy=chosen.name, params=params, **settings)
        return runner.execute(request, [ds], chosen)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frame.csv"
        _write_frame(dataset_or_frame, path)
        ds = files.file_dataset(path)
        request = runner.BacktestRequest(datasets=[ds.id], strategy=chosen.name, params=params, **settings)
        return runner.execute(request, [ds], chosen)


def _write_frame(frame: Frame, path: Path) -> None:
    """A frame of :func:`candles` as a candle file (epoch-second times), for the runner to read."""
    out = frame.copy()
    if isinstance(out.index, pd.DatetimeIndex):
        idx = out.index.tz_convert("UTC").tz_localize(None) if out.index.tz is not None else out.index
        out.insert(0, "time", idx.to_numpy().astype("datetime64[s]").astype(np.int64))
        out = out.reset_index(drop=True)
    keep = [c for c in CANDLE_FIELDS if c in out.columns]
    out[keep].rename(columns={"time": "timestamp"}).to_csv(path, index=False)
