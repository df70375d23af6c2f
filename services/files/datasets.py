"""Datasets: the candle files under the data folder, found by name and stitched into one series.

Two layouts are read (DESIGN §4):

- ``realtime_stream/{TF}_candle_data/{asset}_{TF}_{session}_{chunk}.csv`` written by the
  persistence service: every chunk of one asset and timeframe, over all sessions, is one dataset
  with the id ``{asset}-{tf}`` (``EURUSD_otc-1m``);
- the older ``data_collect/{TF}_candles/*.csv``: the files of one asset in one folder are one
  dataset, id ``{asset}-{tf}-collect``, when the asset can be read from the file name
  (``EURUSD_otc.csv``, ``EURUSD_otc_1m_20240101.csv``, ``#AAPL_otc-part2.csv``: see
  :func:`asset_from_file_name`); any other file is a dataset of its own, id ``{name}-{tf}-collect``.

An asset and timeframe with files in both layouts is one dataset, id ``{asset}-{tf}``, source
``live+backfill``: the two are merged without repeated times (:func:`.merge.merge`: a complete
live candle first, else the broker's), and its ``-collect`` id still finds it. A timeframe with no
files of its own is offered when a finer one has files: it is derived from the nearest finer one
(:func:`.merge.derive`) and says so in ``derived_from``.

Ids are URL-safe (letters, digits, ``_``, ``-``, ``.``) and stable; an asset name with other
characters gets a short hash so two assets never share an id. Requests name datasets by id and the
id is looked up in :func:`discover`'s catalogue; it is never joined into a path.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quantumflux.bus.timeframes import BROKER_DAY_OFFSET, bucket_start, file_label, label
from quantumflux.files.archive import Series, parts, series_of
from quantumflux.files.gaps import TimeframeFit, detect_timeframe, find_gaps
from quantumflux.files.layout import (
    ROOT,
    TF_SECONDS,
    DataFile,
    asset_from_safe_name,
    candle_folder,
    csv_files,
    iter_data_files,
    old_folders,
    parse_name,
    safe_name,
    tick_folder,
)
from quantumflux.files.merge import MergeReport, derivations, derive, merge
from quantumflux.files.reader import LoadedFile, empty_candles, read_candles
from quantumflux.files.ticks import empty_ticks

Frame = Any  # a pandas DataFrame (pandas has no type information)
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")
# How a backfill names its files: {asset}_{TF}_{session}_{chunk}, the asset escaped as in the layout.
_COLLECTED_NAME = re.compile(r"(?P<asset>.+)_\d+[SMHD]_\d{8}T\d{6}Z_\d{4,}")
COLLECT_SUFFIX = "-collect"
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
    root: Path | None = field(default=None, repr=False, compare=False)
    """The data folder the dataset was found in (where its asset's payout history is), if any."""
    collected: tuple[Path, ...] = field(default=(), repr=False, compare=False)
    """The files among ``files`` that hold the broker's collected candles (``data_collect``)."""
    derived_from: int | None = None
    """The finer timeframe whose candles make this one, when this one has no files of its own."""
    day_offset: int = field(default=BROKER_DAY_OFFSET, compare=False)
    """Where the broker's day starts (see :func:`quantumflux.bus.timeframes.bucket_start`)."""

    @property
    def file_timeframe(self) -> int | None:
        """The timeframe of the candles in the files."""
        return self.derived_from or self.timeframe

    @property
    def live_files(self) -> tuple[Path, ...]:
        """The files of ``files`` that are not collected history."""
        if not self.collected:
            return self.files
        collected = set(self.collected)
        return tuple(p for p in self.files if p not in collected)

    def candle_times(self, times: Any) -> Any:
        """This dataset's candle times from its files' row times (a numpy array): the same times,
        or for a derived dataset the open times of the candles they fall in (repeats removed)."""
        if not self.derived_from or not self.timeframe:
            return times
        return np.unique(bucket_start(np.asarray(times, np.int64), self.timeframe, self.day_offset))

    def describe(self) -> dict[str, Any]:
        """What ``GET /datasets`` shows: no paths, only names a user recognises."""
        return {
            "id": self.id,
            "asset": self.asset,
            "timeframe": label(self.timeframe) if self.timeframe else None,
            "source": self.source,
            "derived_from": label(self.derived_from) if self.derived_from else None,
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


def discover(data_dir: str | os.PathLike[str], day_offset: int = BROKER_DAY_OFFSET) -> dict[str, Dataset]:
    """Every dataset under ``data_dir``, by id, in a stable order. Symbolic links are not followed.

    First the series with live files (merged with their collected history), then the collected
    ones alone, then the timeframes derived from finer ones.
    """
    root = Path(data_dir)
    groups: dict[tuple[str, int], list[DataFile]] = {}
    for df in iter_data_files(data_dir):
        if df.kind == "candles" and df.tf:
            groups.setdefault((df.asset, df.tf), []).append(df)
    collected = _collected_groups(data_dir)
    found: dict[str, Dataset] = {}
    for (asset, tf), files in sorted(groups.items()):
        files.sort(key=lambda d: (d.session, d.chunk))
        history = tuple(collected.pop((asset, tf), ()))
        source = "live+backfill" if history else "realtime_stream"
        live = tuple(d.path for d in files)
        ds_id = dataset_id(asset, tf)
        found[ds_id] = Dataset(ds_id, asset, tf, source, live + history, root, history, None, day_offset)
    for (asset, tf), paths in collected.items():
        ds_id = dataset_id(asset, tf, COLLECT_SUFFIX[1:])
        found.setdefault(
            ds_id,
            Dataset(ds_id, asset, tf, "data_collect", tuple(paths), root, tuple(paths), None, day_offset),
        )
    return found | _derived(found, day_offset)


def _collected_groups(data_dir: str | os.PathLike[str]) -> dict[tuple[str, int], list[Path]]:
    """The files of ``data_collect`` by asset and timeframe, folder by folder, assets in file order."""
    out: dict[tuple[str, int], list[Path]] = {}
    for folder, tf in old_folders(data_dir):
        for path in csv_files(folder):
            out.setdefault((collected_asset(path.stem), tf), []).append(path)
    return out


def collected_asset(stem: str) -> str:
    """The asset a ``data_collect`` file holds: from a backfill's own name (escaped as in the
    layout), else as :func:`asset_from_file_name` reads it, else the name itself."""
    m = _COLLECTED_NAME.fullmatch(stem)
    if m is not None:
        try:
            return asset_from_safe_name(m.group("asset"))
        except ValueError:
            pass
    return asset_from_file_name(stem) or stem


def _derived(found: dict[str, Dataset], day_offset: int) -> dict[str, Dataset]:
    """Every layout timeframe an asset has no files for, derived from its nearest finer series."""
    by_asset: dict[str, dict[int, Dataset]] = {}
    for ds in found.values():
        if ds.timeframe:
            by_asset.setdefault(ds.asset, {}).setdefault(ds.timeframe, ds)
    out: dict[str, Dataset] = {}
    for asset, series in by_asset.items():
        for tf, source_tf in derivations(series, TF_SECONDS, day_offset).items():
            src = series[source_tf]
            suffix = COLLECT_SUFFIX[1:] if src.source == "data_collect" else ""
            ds_id = dataset_id(asset, tf, suffix)
            if ds_id not in found:
                out[ds_id] = Dataset(
                    ds_id, asset, tf, src.source, src.files, src.root, src.collected, source_tf, day_offset
                )
    return out


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


def file_dataset(path: str | os.PathLike[str]) -> Dataset:
    """A dataset made of one CSV file the user names on the command line."""
    p = Path(path)
    return Dataset(dataset_id(p.stem, None, "file"), p.stem, None, "file", (p,))


def lookup(catalogue: dict[str, Dataset], value: str) -> Dataset:
    """The dataset with id ``value``; :class:`DatasetError` with the close names when there is none."""
    check_id(value)
    if value in catalogue:
        return catalogue[value]
    merged = catalogue.get(value.removesuffix(COLLECT_SUFFIX)) if value.endswith(COLLECT_SUFFIX) else None
    if merged is not None and merged.collected:
        return merged  # collected history now merged with live candles under the plain id
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
    incomplete: int = 0
    merged: MergeReport | None = None
    """How live and collected candles were merged, when the dataset has both."""
    derived_from: int | None = None

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
            "incomplete_candles": self.incomplete,
            "gap_list": [{"after": g.after, "before": g.before, "missing": g.missing} for g in self.gaps],
            "derived_from": label(self.derived_from) if self.derived_from else None,
            "differences": self.merged.differences if self.merged else 0,
            "merge": self.merged.as_dict() if self.merged else None,
        }


def stitch(parts: list[LoadedFile], timeframe: int | None = None) -> tuple[Frame, DataReport]:
    """One series from the files of a dataset in file order: sorted, repeated times removed.

    Where files overlap, the row of the earlier file is kept (files come in session and chunk
    order, so that is the one written first). Gaps are measured against ``timeframe`` or, when it
    is None, the detected timeframe.
    """
    frames = [p.candles for p in parts if len(p.candles)]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_candles()
    out_of_order = sum(p.out_of_order for p in parts)
    t = frame["time"].to_numpy()
    steps = np.diff(t)
    overlaps = 0
    if len(t) > 1 and not (steps > 0).all():  # rising times (the usual case) repeat nothing
        if (steps < 0).any():
            frame = frame.sort_values("time", kind="stable")
        dup = frame["time"].duplicated(keep="first").to_numpy()
        overlaps = int(dup.sum())
        if overlaps:
            frame = frame[~dup]
    frame = frame.reset_index(drop=True)
    report = measure(frame, timeframe)
    files, rows, duplicates = (sum(getattr(p, k) for p in parts) for k in ("files", "rows", "duplicates"))
    return frame, replace(
        report, files=files, rows=rows, duplicates=duplicates, overlaps=overlaps, out_of_order=out_of_order
    )


def measure(frame: Frame, timeframe: int | None) -> DataReport:
    """The candles, timeframe, gaps and incomplete candles of a series (pure); no files counted."""
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
    return DataReport(
        files=0,
        rows=0,
        candles=len(frame),
        duplicates=0,
        overlaps=0,
        out_of_order=0,
        timeframe=fit,
        gaps=tuple(gaps),
        gap_count=gap_count,
        missing_candles=missing,
        incomplete=int((frame["complete"].to_numpy() == 0).sum()),
    )


def drop_incomplete(frame: Frame) -> Frame:
    """The candles that saw their whole period: an incomplete candle becomes a missing one (pure)."""
    whole = frame["complete"].to_numpy() != 0
    return frame if whole.all() else frame[whole].reset_index(drop=True)


def load(
    dataset: Dataset, start: float | None = None, end: float | None = None, archive: bool = True
) -> tuple[Frame, DataReport]:
    """Read and stitch every file of a dataset; :class:`~.reader.LoadError` names a bad file.

    Chunks of the persistence service's layout come from the Parquet archive (:mod:`.archive`,
    brought up to date on the way), the rest from CSV: the same rows either way. ``start`` and
    ``end`` (epoch seconds) let the archive skip months outside them; rows are not cut here.
    ``archive`` False reads every CSV file (what the archive is checked against).

    Live and collected files are each stitched, then merged (:func:`.merge.merge`); a derived
    dataset is then built from its finer candles (:func:`.merge.derive`).
    """
    tf = dataset.file_timeframe
    if archive and dataset.source in ("realtime_stream", "live+backfill") and dataset.root is not None:
        series = series_of(dataset.root, "candles", tf, dataset.live_files)
        live_parts = parts(series, start, end, read_candles)
    else:
        live_parts = [read_candles(p) for p in dataset.live_files]
    frame, report = stitch(live_parts, tf)
    if dataset.collected:
        history, old = stitch([read_candles(p) for p in dataset.collected], tf)
        if not live_parts:
            frame, report = history, old
        else:
            frame, merged = merge(frame, history, dataset.asset, tf or 0)
            report = _with_reading(replace(measure(frame, tf), merged=merged), report, old)
    if dataset.derived_from and dataset.timeframe:
        frame = derive(frame, dataset.derived_from, dataset.timeframe, dataset.day_offset)
        derived = replace(
            measure(frame, dataset.timeframe), merged=report.merged, derived_from=dataset.derived_from
        )
        report = _with_reading(derived, report)
    return frame, report


def _with_reading(report: DataReport, *read: DataReport) -> DataReport:
    """``report`` with the files, rows and dropped rows of the ``read`` reports added up."""
    return replace(
        report,
        files=sum(r.files for r in read),
        rows=sum(r.rows for r in read),
        duplicates=sum(r.duplicates for r in read),
        overlaps=sum(r.overlaps for r in read),
        out_of_order=sum(r.out_of_order for r in read),
    )


def _series_files(folder: Path, prefix: str, asset: str) -> list[DataFile]:
    """The files of one asset in one layout folder, in the order written; only names that start
    with ``prefix`` are parsed (a folder may hold a hundred thousand files of other assets)."""
    try:
        with os.scandir(folder) as it:
            names = [e for e in it if e.name.startswith(prefix) and e.is_file(follow_symlinks=False)]
    except OSError:
        return []
    found = [parse_name(folder.name, e.name, Path(e.path)) for e in names]
    files = [d for d in found if d is not None and d.asset == asset]
    files.sort(key=lambda d: (d.session, d.chunk))
    return files


def find(data_dir: str | os.PathLike[str], asset: str, tf: int) -> Dataset | None:
    """The persistence service's dataset of ``asset`` at ``tf``, found without listing other series."""
    if (Path(data_dir) / ROOT).is_symlink():
        return None
    folder = candle_folder(data_dir, tf)
    files = _series_files(folder, f"{safe_name(asset)}_{file_label(tf)}_", asset)
    if not files:
        return None
    ds_id = dataset_id(asset, tf)
    return Dataset(ds_id, asset, tf, "realtime_stream", tuple(d.path for d in files), Path(data_dir))


def tick_series(data_dir: str | os.PathLike[str], asset: str) -> Series:
    """The tick files of ``asset`` under ``data_dir``, over all sessions, in the order written."""
    if (Path(data_dir) / ROOT).is_symlink():
        return series_of(data_dir, "ticks", None, [])
    files = _series_files(tick_folder(data_dir), f"{safe_name(asset)}_ticks_", asset)
    return series_of(data_dir, "ticks", None, [d.path for d in files])


def load_ticks(
    data_dir: str | os.PathLike[str], asset: str, start: float | None = None, end: float | None = None
) -> Frame:
    """Every tick of ``asset`` (``ts`` epoch seconds, ``price``) in time order, ticks of one time in
    the order written; ``start``/``end`` let the archive skip months outside them (rows are not cut
    here). :class:`~.reader.LoadError` names a file that cannot be read."""
    frames = [p.candles for p in parts(tick_series(data_dir, asset), start, end) if len(p.candles)]
    frame = pd.concat(frames, ignore_index=True) if frames else empty_ticks()
    ts = frame["ts"].to_numpy()
    if len(ts) > 1 and (np.diff(ts) < 0).any():
        frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    return frame
