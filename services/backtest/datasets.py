"""Datasets: the candle files under the data folder, found by name and stitched into one series.

Two layouts are read (DESIGN §4):

- ``realtime_stream/{TF}_candle_data/{asset}_{TF}_{session}_{chunk}.csv`` written by the
  persistence service: every chunk of one asset and timeframe, over all sessions, is one dataset
  with the id ``{asset}-{tf}`` (``EURUSD_otc-1m``);
- the older ``data_collect/{TF}_candles/*.csv``: the files of one asset in one folder are one
  dataset, id ``{asset}-{tf}-collect``, when the asset can be read from the file name
  (``EURUSD_otc.csv``, ``EURUSD_otc_1m_20240101.csv``, ``#AAPL_otc-part2.csv``: see
  :func:`asset_from_file_name`); any other file is a dataset of its own, id ``{name}-{tf}-collect``.

Ids are URL-safe (letters, digits, ``_``, ``-``, ``.``) and stable; an asset name with other
characters gets a short hash so two assets never share an id. Requests name datasets by id and the
id is looked up in :func:`discover`'s catalogue; it is never joined into a path.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.bus.timeframes import TimeframeError, label, parse_timeframe
from services.persistence.layout import iter_data_files

from .loader import LoadedFile, TimeframeFit, detect_timeframe, empty_candles, read_candles

OLD_ROOT = "data_collect"
_OLD_FOLDER = re.compile(r"^(?P<tf>\d+[SMHD])_candles$")
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
# A broker symbol at the start of an older file's name: capitals and digits (a leading # for
# stocks), an optional _otc, then the end of the name or a separator before the rest
# (timeframe, date, part number).
_OLD_ASSET = re.compile(
    r"^(?P<symbol>#?[A-Z][A-Z0-9]{1,15})(?P<otc>_otc(?=$|[_\-. ]))?(?:[_\-. ].*)?$", re.IGNORECASE
)
MAX_GAPS_LISTED = 50


class DatasetError(ValueError):
    """A dataset that does not exist or cannot be named that way."""


@dataclass(frozen=True)
class Dataset:
    """One series of candles: an asset at a timeframe, from one or more files."""

    id: str
    asset: str
    timeframe: int | None
    source: str
    files: tuple[Path, ...] = field(repr=False)

    def describe(self) -> dict[str, Any]:
        """What ``GET /datasets`` shows: no paths, only names a user recognises."""
        return {
            "id": self.id,
            "asset": self.asset,
            "timeframe": label(self.timeframe) if self.timeframe else None,
            "source": self.source,
            "files": len(self.files),
            "bytes": sum(_size(p) for p in self.files),
        }


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def dataset_id(asset: str, tf: int | None, suffix: str = "") -> str:
    """The URL-safe id of an asset's candles at a timeframe (``EURUSD_otc-1m``)."""
    base = _UNSAFE.sub("_", asset).strip("_") or "asset"
    if base != asset:
        base += "." + hashlib.sha1(asset.encode("utf-8")).hexdigest()[:6]
    parts = [base[:150]]
    if tf:
        parts.append(label(tf))
    if suffix:
        parts.append(suffix)
    return "-".join(parts)


def check_id(value: str) -> str:
    """``value`` if it can be a dataset id; :class:`DatasetError` for anything path-like."""
    if not isinstance(value, str) or not _ID_OK.match(value) or ".." in value:
        raise DatasetError(
            f"{value!r} is not a dataset id (ids are names like EURUSD_otc-1m from the dataset list, not paths)"
        )
    return value


def discover(data_dir: str | os.PathLike[str]) -> dict[str, Dataset]:
    """Every dataset under ``data_dir``, by id, in a stable order. Symbolic links are not followed."""
    found: dict[str, Dataset] = {}
    groups: dict[tuple[str, int], list[Any]] = {}
    for df in iter_data_files(data_dir):
        if df.kind == "candles" and df.tf:
            groups.setdefault((df.asset, df.tf), []).append(df)
    for (asset, tf), files in sorted(groups.items()):
        files.sort(key=lambda d: (d.session, d.chunk))
        ds_id = dataset_id(asset, tf)
        found[ds_id] = Dataset(ds_id, asset, tf, "realtime_stream", tuple(d.path for d in files))
    for folder, tf in _old_folders(Path(data_dir) / OLD_ROOT):
        by_asset: dict[str, list[Path]] = {}
        for path in _csv_files(folder):
            by_asset.setdefault(asset_from_file_name(path.stem) or path.stem, []).append(path)
        for asset, paths in by_asset.items():
            ds_id = dataset_id(asset, tf, "collect")
            found.setdefault(ds_id, Dataset(ds_id, asset, tf, "data_collect", tuple(paths)))
    return found


def asset_from_file_name(stem: str) -> str | None:
    """The asset an older data file holds, read from its name (without ``.csv``), or None.

    The name must start with a broker symbol in capitals (``EURUSD``, ``#AAPL``, ``US100``),
    optionally ``_otc`` in any case, then end or go on after ``_``, ``-``, ``.`` or a space:
    ``EURUSD_otc``, ``EURUSD_otc_1m_20240101`` and ``EURUSD_OTC-2`` are all ``EURUSD_otc``.
    Names in lower case (``export_3``, ``candles``) are not read as an asset.
    """
    m = _OLD_ASSET.match(stem)
    if m is None or not m.group("symbol").isupper():
        return None
    return m.group("symbol") + ("_otc" if m.group("otc") else "")


def _old_folders(root: Path) -> list[tuple[Path, int]]:
    out: list[tuple[Path, int]] = []
    if root.is_symlink() or not root.is_dir():
        return out
    with os.scandir(root) as it:
        for entry in sorted(it, key=lambda e: e.name):
            m = _OLD_FOLDER.match(entry.name)
            if m and entry.is_dir(follow_symlinks=False):
                try:
                    out.append((Path(entry.path), parse_timeframe(m.group("tf").lower())))
                except TimeframeError:
                    continue
    return out


def _csv_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        return sorted(
            Path(e.path) for e in it if e.name.lower().endswith(".csv") and e.is_file(follow_symlinks=False)
        )


def file_dataset(path: str | os.PathLike[str]) -> Dataset:
    """A dataset made of one CSV file the user names on the command line."""
    p = Path(path)
    return Dataset(dataset_id(p.stem, None, "file"), p.stem, None, "file", (p,))


def lookup(catalogue: dict[str, Dataset], value: str) -> Dataset:
    """The dataset with id ``value``; :class:`DatasetError` with the close names when there is none."""
    check_id(value)
    if value in catalogue:
        return catalogue[value]
    import difflib

    close = difflib.get_close_matches(value, list(catalogue), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else f" ({len(catalogue)} datasets are known)"
    raise DatasetError(f"unknown dataset {value!r}{hint}")


@dataclass(frozen=True)
class Gap:
    """Missing candles between two candles that are further apart than one timeframe."""

    after: int
    before: int
    missing: int


@dataclass(frozen=True)
class DataReport:
    """What loading a dataset found: rows read, what was dropped, the timeframe, the gaps."""

    files: int
    rows: int
    candles: int
    duplicates: int
    overlaps: int
    out_of_order: int
    timeframe: TimeframeFit
    gaps: tuple[Gap, ...]
    gap_count: int
    missing_candles: int

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        tf = self.timeframe
        return {
            "files": self.files,
            "rows": self.rows,
            "candles": self.candles,
            "duplicates_removed": self.duplicates,
            "overlaps_removed": self.overlaps,
            "out_of_order": self.out_of_order,
            "timeframe": label(tf.seconds) if tf.seconds else None,
            "timeframe_fit": round(tf.fit, 6),
            "timeframe_message": tf.message(),
            "gaps": self.gap_count,
            "missing_candles": self.missing_candles,
            "gap_list": [{"after": g.after, "before": g.before, "missing": g.missing} for g in self.gaps],
        }


def find_gaps(times: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Where sorted candle ``times`` are further apart than ``step``: the index of the candle
    before each gap, and how many candles are missing in it (a 150 s hole in 1m candles misses 2)."""
    d = np.diff(times)
    idx = np.flatnonzero(d > step)
    miss = d[idx] // step - (d[idx] % step == 0)
    return idx, miss


def stitch(parts: list[LoadedFile], timeframe: int | None = None) -> tuple[pd.DataFrame, DataReport]:
    """One series from the files of a dataset in file order: sorted, repeated times removed.

    Where files overlap, the row of the earlier file is kept (files come in session and chunk
    order, so that is the one written first). Gaps are measured against ``timeframe`` or, when it
    is None, the detected timeframe.
    """
    frames = [p.candles for p in parts if len(p.candles)]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_candles()
    out_of_order = sum(p.out_of_order for p in parts)
    t = frame["time"].to_numpy()
    if len(t) > 1 and (np.diff(t) < 0).any():
        frame = frame.sort_values("time", kind="stable")
    dup = frame["time"].duplicated(keep="first").to_numpy()
    overlaps = int(dup.sum())
    if overlaps:
        frame = frame[~dup]
    frame = frame.reset_index(drop=True)
    times = frame["time"].to_numpy()
    fit = detect_timeframe(times)
    step = timeframe or fit.seconds
    gaps: list[Gap] = []
    gap_count = missing = 0
    if step and len(times) > 1:
        idx, miss = find_gaps(times, step)
        gap_count = len(idx)
        missing = int(miss.sum())
        gaps = [
            Gap(int(times[i]), int(times[i + 1]), int(m))
            for i, m in zip(idx[:MAX_GAPS_LISTED], miss, strict=False)
        ]
    report = DataReport(
        files=len(parts),
        rows=sum(p.rows for p in parts),
        candles=len(frame),
        duplicates=sum(p.duplicates for p in parts),
        overlaps=overlaps,
        out_of_order=out_of_order,
        timeframe=fit,
        gaps=tuple(gaps),
        gap_count=gap_count,
        missing_candles=missing,
    )
    return frame, report


def load(dataset: Dataset) -> tuple[pd.DataFrame, DataReport]:
    """Read and stitch every file of a dataset; :class:`~.loader.LoadError` names a bad file."""
    return stitch([read_candles(p) for p in dataset.files], dataset.timeframe)
