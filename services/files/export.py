"""``qf export`` and ``qf data --compact``: a dataset written out for other tools, and the
archive brought up to date for every series at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantumflux.files import archive, datasets
from quantumflux.files.columns import CANDLE_FIELDS
from quantumflux.files.layout import iter_data_files

Format = Literal["parquet", "csv"]


def for_tools(frame: Any) -> Any:
    """A loaded dataset with ``time`` as a UTC timestamp, the way other tools read times (pure)."""
    out = frame.copy()
    out["time"] = pd.to_datetime(out["time"].to_numpy(), unit="s", utc=True)
    return out[list(CANDLE_FIELDS)]


def csv_text(frame: Any) -> str:
    """A loaded dataset as a candle file of the contract: the same header and cells (pure)."""
    iso = np.datetime_as_string(frame["time"].to_numpy().astype("datetime64[s]"), unit="s")
    body = frame.drop(columns="time").copy()
    body.insert(0, "timestamp", np.char.add(iso.astype(str), "Z"))
    body["volume"] = body["volume"].astype("Int64")  # a whole amount, or empty when unknown
    # Prices as the shortest text that reads back as the same number, like the writer.
    text: str = body.to_csv(index=False, lineterminator="\n")
    return text


def export(data_dir: Path, ds_id: str, fmt: Format, out: Path) -> int:
    """Write dataset ``ds_id`` to ``out``; the candles written. Replaces ``out`` whole or not at all."""
    ds = datasets.lookup(datasets.discover(data_dir), ds_id)
    frame, _ = datasets.load(ds)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            for_tools(frame).to_parquet(tmp, index=False)
        else:
            tmp.write_text(csv_text(frame), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frame)


def compact_all(data_dir: Path) -> tuple[int, int]:
    """Bring the archive of every candle and tick series up to date: (series, files archived)."""
    series = [
        archive.series_of(data_dir, "candles", ds.timeframe, ds.files)
        for ds in datasets.discover(data_dir).values()
        if ds.source == "realtime_stream"
    ]
    assets = sorted({d.asset for d in iter_data_files(data_dir) if d.kind == "ticks"})
    series += [datasets.tick_series(data_dir, asset) for asset in assets]
    return len(series), sum(archive.compact(s) for s in series)
