"""The file layout of DESIGN §4: folder and file names, sessions, chunk numbers and time formats.

It builds and parses names, and lists the files of a data folder by their names. The persistence
service names the files it writes with it; the backtester and ``qf data`` find them with it::

    realtime_stream/{TF}_candle_data/{asset}_{TF}_{session}_{chunk:04d}.csv
    realtime_stream/tick_data/{asset}_ticks_{session}_{chunk:04d}.csv
    payouts/{asset}_payouts_{session}_{chunk:04d}.csv

and the older layout, read but never written::

    data_collect/{TF}_candles/*.csv
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from quantumflux.bus.timeframes import TimeframeError, file_label, parse_timeframe

ROOT = "realtime_stream"
TICK_FOLDER = "tick_data"
CANDLE_FOLDER_SUFFIX = "_candle_data"
TF_SECONDS = (1, 5, 10, 15, 30, 60, 300, 900, 3600, 14400, 86400)
TF_LABELS = tuple(file_label(s) for s in TF_SECONDS)
FIRST_CHUNK = 1
OLD_ROOT = "data_collect"
PAYOUT_FOLDER = "payouts"
_OLD_FOLDER = re.compile(r"^(?P<tf>\d+[SMHD])_candles$")

# Characters kept as they are in a file name; everything else is percent-encoded (UTF-8 bytes).
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-#+=@.")
# File names are at most 255 bytes; the rest of a name (``_ticks_{session}_{chunk}.csv``) takes 32.
MAX_SAFE_NAME = 200
# A name too long to keep whole ends with this marker and a hash of the full name.
_CUT = "%~"
_SESSION = r"\d{8}T\d{6}Z"
_CANDLE_NAME = re.compile(
    rf"(?P<asset>.+)_(?P<tf>\d+[SMHD])_(?P<session>{_SESSION})_(?P<chunk>\d{{4,}})\.csv"
)
_TICK_NAME = re.compile(rf"(?P<asset>.+)_ticks_(?P<session>{_SESSION})_(?P<chunk>\d{{4,}})\.csv")
_PAYOUT_NAME = re.compile(rf"(?P<asset>.+)_payouts_(?P<session>{_SESSION})_(?P<chunk>\d{{4,}})\.csv")
_ESCAPE = re.compile(r"%([0-9A-F]{2})")


def safe_name(asset: str) -> str:
    """The asset's name as a safe file-name component, reversible by :func:`asset_from_safe_name`.

    Letters, digits and ``_-#+=@.`` stay as they are, so ``EURUSD_otc`` and ``#AAPL_otc`` stay
    readable; any other byte of the UTF-8 name (``/``, ``\\``, ``%``, control characters, spaces,
    non-ASCII) becomes ``%XX``, and so does a leading dot (so ``..`` is ``%2E.``). The result never
    contains a path separator and never is ``.`` or ``..``. A name longer than 200 bytes once encoded
    is cut and ends with ``%~`` and a hash of the whole name (the only case that is not reversible).
    """
    if not asset:
        raise ValueError("an asset name cannot be empty")
    out = []
    for i, byte in enumerate(asset.encode("utf-8")):
        ch = chr(byte)
        if ch in _SAFE and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.append(f"%{byte:02X}")
    name = "".join(out)
    if len(name) > MAX_SAFE_NAME:
        digest = hashlib.sha256(asset.encode("utf-8")).hexdigest()[:16]
        head = name[: MAX_SAFE_NAME - len(_CUT) - len(digest)]
        # Never cut an escape in half.
        cut = head.rfind("%", len(head) - 2)
        if cut != -1:
            head = head[:cut]
        name = f"{head}{_CUT}{digest}"
    return name


def asset_from_safe_name(name: str) -> str:
    """The asset name a file-name component stands for (the inverse of :func:`safe_name`).

    A cut name (``…%~hash``) is returned as it is, since the full name is not in it.
    Raises ``ValueError`` for a component :func:`safe_name` cannot have produced.
    """
    if not name:
        raise ValueError("empty asset name in a file name")
    if _CUT in name:
        return name
    raw = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "%":
            m = _ESCAPE.match(name, i)
            if not m:
                raise ValueError(f"bad escape in file name component {name!r}")
            raw.append(int(m.group(1), 16))
            i += 3
        elif ch in _SAFE:
            raw.append(ord(ch))
            i += 1
        else:
            raise ValueError(f"character {ch!r} cannot appear in a stored asset name {name!r}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"file name component {name!r} is not UTF-8 once unescaped") from None


def session_start(label: str) -> float:
    """Epoch seconds of a session label (the inverse of :func:`session_label`)."""
    return datetime.strptime(label, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def session_label(ts: float) -> str:
    """Session name of a service start at ``ts`` (epoch seconds): ``20261122T030500Z``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(ts)))


def iso_utc(ts: float, millis: bool) -> str:
    """ISO 8601 UTC with a ``Z``: ``2026-11-22T03:05:00Z`` or, with ``millis``, ``…:00.123Z``."""
    if not millis:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts // 1)))
    ms = round(ts * 1000)
    sec, frac = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:03d}Z"


def parse_iso_utc(text: str) -> float:
    """Epoch seconds of a ``timestamp`` written by :func:`iso_utc`."""
    body = text.strip().rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in body else "%Y-%m-%dT%H:%M:%S"
    return datetime.strptime(body, fmt).replace(tzinfo=UTC).timestamp()


def candle_folder(data_dir: str | os.PathLike[str], tf_seconds: int) -> Path:
    """Folder of one timeframe's candle files."""
    return Path(data_dir) / ROOT / f"{file_label(tf_seconds)}{CANDLE_FOLDER_SUFFIX}"


def tick_folder(data_dir: str | os.PathLike[str]) -> Path:
    """Folder of the tick files."""
    return Path(data_dir) / ROOT / TICK_FOLDER


def candle_file(
    data_dir: str | os.PathLike[str], asset: str, tf_seconds: int, session: str, chunk: int
) -> Path:
    """Path of one chunk of an asset's candles of one timeframe in one session."""
    return stored_file(data_dir, "candles", safe_name(asset), tf_seconds, session, chunk)


def tick_file(data_dir: str | os.PathLike[str], asset: str, session: str, chunk: int) -> Path:
    """Path of one chunk of an asset's ticks in one session."""
    return stored_file(data_dir, "ticks", safe_name(asset), None, session, chunk)


def payout_folder(data_dir: str | os.PathLike[str]) -> Path:
    """Folder of the payout files."""
    return Path(data_dir) / PAYOUT_FOLDER


def payout_file(data_dir: str | os.PathLike[str], asset: str, session: str, chunk: int) -> Path:
    """Path of one chunk of an asset's payout changes in one session."""
    return stored_file(data_dir, "payouts", safe_name(asset), None, session, chunk)


def stored_file(
    data_dir: str | os.PathLike[str], kind: str, stored_name: str, tf: int | None, session: str, chunk: int
) -> Path:
    """Path of a chunk from the asset's already escaped name (see :func:`safe_name`)."""
    if "/" in stored_name or "\\" in stored_name or stored_name in ("", ".", ".."):
        raise ValueError(f"not an escaped asset name: {stored_name!r}")
    if kind == "ticks":
        return tick_folder(data_dir) / f"{stored_name}_ticks_{session}_{chunk:04d}.csv"
    if kind == "payouts":
        return payout_folder(data_dir) / f"{stored_name}_payouts_{session}_{chunk:04d}.csv"
    if tf is None:
        raise ValueError("a candle file needs a timeframe")
    label = file_label(tf)
    return candle_folder(data_dir, tf) / f"{stored_name}_{label}_{session}_{chunk:04d}.csv"


Kind = Literal["candles", "ticks", "payouts"]


@dataclass(frozen=True)
class DataFile:
    """One file of the layout, as read from its name."""

    kind: Kind
    asset: str
    tf: int | None
    session: str
    chunk: int
    path: Path
    stored_name: str = ""
    """The asset as written in the file name (escaped), which identifies the series on disk."""


def parse_name(folder: str, name: str, path: Path) -> DataFile | None:
    """The :class:`DataFile` a file name in a layout folder stands for, or None if it is not one."""
    kind: Kind
    tf: int | None = None
    if folder in (TICK_FOLDER, PAYOUT_FOLDER):
        kind = "ticks" if folder == TICK_FOLDER else "payouts"
        m = (_TICK_NAME if kind == "ticks" else _PAYOUT_NAME).fullmatch(name)
        if not m:
            return None
    elif folder.endswith(CANDLE_FOLDER_SUFFIX) and folder[: -len(CANDLE_FOLDER_SUFFIX)] in TF_LABELS:
        m = _CANDLE_NAME.fullmatch(name)
        if not m or m.group("tf") != folder[: -len(CANDLE_FOLDER_SUFFIX)]:
            return None
        kind = "candles"
        tf = parse_timeframe(m.group("tf").lower())
    else:
        return None
    try:
        asset = asset_from_safe_name(m.group("asset"))
    except ValueError:
        return None
    return DataFile(kind, asset, tf, m.group("session"), int(m.group("chunk")), path, m.group("asset"))


def _real_dirs(path: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            yield entry


def iter_data_files(data_dir: str | os.PathLike[str]) -> Iterator[DataFile]:
    """Every file of the layout under ``data_dir``, read from the names; anything else is ignored.

    Symbolic links are never followed (not for folders, not for files), so nothing outside
    ``data_dir`` is listed. Files come folder by folder (the payout folder last), then by asset,
    session and chunk.
    """
    root = Path(data_dir) / ROOT
    if not root.is_symlink() and root.is_dir():
        for folder in _real_dirs(root):
            if folder.name != PAYOUT_FOLDER:  # payouts live beside realtime_stream, not in it
                yield from _files_in(folder.name, folder.path)
    payouts = payout_folder(data_dir)
    if not payouts.is_symlink() and payouts.is_dir():
        yield from _files_in(PAYOUT_FOLDER, str(payouts))


def _files_in(name: str, path: str) -> list[DataFile]:
    found = []
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return []
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            df = parse_name(name, entry.name, Path(entry.path))
            if df is not None:
                found.append(df)
    found.sort(key=lambda d: (d.asset, d.session, d.chunk))
    return found


def old_folders(data_dir: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """The folders of the older layout (``data_collect/{TF}_candles``) with their timeframes."""
    root = Path(data_dir) / OLD_ROOT
    if root.is_symlink() or not root.is_dir():
        return []
    out: list[tuple[Path, int]] = []
    for entry in _real_dirs(root):
        m = _OLD_FOLDER.match(entry.name)
        if m is None:
            continue
        try:
            out.append((Path(entry.path), parse_timeframe(m.group("tf").lower())))
        except TimeframeError:
            continue
    return out


def csv_files(folder: Path) -> list[Path]:
    """The CSV files of an older-layout folder, by name; links are not followed."""
    with os.scandir(folder) as it:
        return sorted(
            Path(e.path) for e in it if e.name.lower().endswith(".csv") and e.is_file(follow_symlinks=False)
        )
