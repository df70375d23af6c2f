"""Scrolling back past the live series: the candles on disk older than a time.

The files of one asset and timeframe are read as the backtester reads them (:mod:`quantumflux.files`):
the persistence service's live candles merged with the backfilled ones, no repeated times, a
complete live candle first. :func:`older_rows` is pure; :func:`file_candles` is the shell that
finds and reads the files.
"""

from __future__ import annotations

import math
import os
from typing import Any

from quantumflux.bus.timeframes import label
from quantumflux.files.datasets import Dataset, collected_asset, dataset_id, find, load
from quantumflux.files.layout import csv_files, old_folders

Frame = Any  # a pandas DataFrame (pandas has no type information)


def series_dataset(data_dir: str | os.PathLike[str], asset: str, tf: int) -> Dataset | None:
    """The dataset of ``asset`` at ``tf``: its live files and its backfilled ones, or None."""
    live = find(data_dir, asset, tf)
    collected = tuple(
        path
        for folder, folder_tf in old_folders(data_dir)
        if folder_tf == tf
        for path in csv_files(folder)
        if collected_asset(path.stem) == asset
    )
    if live is None and not collected:
        return None
    files = (live.files if live else ()) + collected
    source = "data_collect" if live is None else ("live+backfill" if collected else "realtime_stream")
    root = live.root if live else None
    return Dataset(dataset_id(asset, tf), asset, tf, source, files, root, collected)


def older_rows(frame: Frame, asset: str, tf: int, before: int, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` candles of ``frame`` that open before ``before``, oldest first, shaped
    as ``history`` shapes a closed candle."""
    times = frame["time"].to_numpy()
    picked = frame[times < before].tail(limit)
    out = []
    for row in picked.itertuples(index=False):
        candle = {
            "asset": asset,
            "timeframe": label(tf),
            "time": int(row.time),
            "open": float(row.open),
            "high": float(row.high),
            "low": float(row.low),
            "close": float(row.close),
            "ticks": int(row.ticks),
            "closed": True,
            "complete": bool(row.complete),
        }
        if not math.isnan(row.volume):
            candle["volume"] = int(row.volume)
        out.append(candle)
    return out


def file_candles(
    data_dir: str | os.PathLike[str], asset: str, tf: int, before: int, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` candles on disk of ``asset`` at ``tf`` before ``before`` (blocking:
    run it in a thread). :class:`quantumflux.files.cells.LoadError` names a file that cannot be read."""
    dataset = series_dataset(data_dir, asset, tf)
    if dataset is None:
        return []
    frame, _ = load(dataset, end=before)
    return older_rows(frame, asset, tf, before, limit)
