"""The files on disk: appends with fsync, the commit record, and the repair after a crash.

Exactly once on disk rests on one small file, ``{data_dir}/.persistence/state.json``, the *commit
record*: for every stream the id of the last entry whose rows are on disk, and for every series of
the current session its chunk number, rows and byte length. A batch is committed in this order:

1. append the rows to the chunk files and fsync each file (and each new file's folder), or, when
   a batch touches many files, one ``syncfs`` of the filesystem after all of them;
2. write the commit record to a temporary file, fsync it, rename it over the old one, fsync the folder;
3. only then move the consumer group past the stream entries (``worker.py``).

A crash before step 2 leaves rows on disk that the record does not mention: on start, and after
every failed write, :meth:`Store.recover` cuts each file back to the length the record gives and
removes chunks created after it, and reading starts again after the recorded ids, so those entries
are written once, anew. A crash after step 2 leaves the group behind the record: reading starts
after the recorded ids all the same, and the group is moved there. A torn last line is cut away by
the same repair.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from quantumflux.files import orders
from quantumflux.files.columns import header_line
from quantumflux.files.layout import DataFile, iter_data_files, session_start, stored_file
from quantumflux.files.rows import Append, Position, SeriesKey

STATE_DIR = ".persistence"
STATE_FILE = "state.json"
LOCK_FILE = "lock"
STATE_VERSION = 1
_HEADERS = {kind: header_line(kind).encode() for kind in ("candles", "ticks", "payouts")}
_HEADERS["orders"] = orders.header_line().encode()


def layout_files(data_dir: Path) -> Iterator[DataFile | orders.OrderFile]:
    """Every file this service writes: the layout's series and the order files."""
    yield from iter_data_files(data_dir)
    yield from orders.iter_order_files(data_dir)


def file_of(data_dir: Path, key: SeriesKey, session: str, chunk: int) -> Path:
    """Path of one chunk of a series."""
    if key[0] == "orders":
        return orders.order_file(data_dir, session, chunk)
    return stored_file(data_dir, key[0], key[1], key[2], session, chunk)


class DiskError(Exception):
    """Writing failed (disk full, folder read-only or gone); ``path`` is where, ``reason`` why."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        self.reason = exc.strerror or str(exc)
        super().__init__(f"can't write to {path}: {self.reason}")


class LockedError(Exception):
    """Another persistence service already writes to this data folder."""


@dataclass(frozen=True, slots=True)
class FilePos:
    """A series' current chunk, its rows and its committed byte length."""

    chunk: int
    rows: int
    size: int


@dataclass
class Committed:
    """The commit record: session, last written id per stream, and where each series stands."""

    session: str
    streams: dict[str, str] = field(default_factory=dict)
    series: dict[SeriesKey, FilePos] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "v": STATE_VERSION,
            "session": self.session,
            "streams": self.streams,
            "series": [[k[0], k[1], k[2], p.chunk, p.rows, p.size] for k, p in self.series.items()],
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> Committed:
        if obj.get("v") != STATE_VERSION:
            raise ValueError(f"unknown state version {obj.get('v')!r}")
        streams = obj.get("streams")
        series = obj.get("series")
        if not isinstance(streams, dict) or not isinstance(series, list):
            raise ValueError("state is missing streams or series")
        out = cls(session=str(obj["session"]), streams={str(k): str(v) for k, v in streams.items()})
        for kind, name, tf, chunk, rows, size in series:
            out.series[(str(kind), str(name), None if tf is None else int(tf))] = FilePos(
                int(chunk), int(rows), int(size)
            )
        return out


# Files written by one commit above which a single syncfs(2) replaces an fsync per file.
FSYNC_EACH_UP_TO = 4


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return cast(Callable[[int], int], fn)


_syncfs = _load_syncfs()


def _sync_filesystem(path: Path) -> None:
    """Flush every write on the filesystem holding ``path`` to the disk (data and folders)."""
    assert _syncfs is not None
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_torn(path: Path) -> bool:
    """Cut a last line that has no newline (left by a crash); True when the file changed.

    A file with not even a whole header line is removed.
    """
    with open(path, "r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end == 0:
            fh.close()
            path.unlink()
            return True
        fh.seek(end - 1)
        if fh.read(1) == b"\n":
            return False
        pos = end
        keep = 0
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            fh.seek(pos)
            block = fh.read(step)
            nl = block.rfind(b"\n")
            if nl != -1:
                keep = pos + nl + 1
                break
        fh.truncate(keep)
        os.fsync(fh.fileno())
    if keep == 0:
        path.unlink()
    return True


class Store:
    """The data folder of one persistence service: lock, commit record, appends, repair."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.state_dir = data_dir / STATE_DIR
        self.committed: Committed | None = None
        self.repaired = 0
        self._lock_fd: int | None = None

    # -- start -----------------------------------------------------------------------------

    def lock(self) -> None:
        """Take the folder's lock so two services never write the same files."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(f"another persistence service is writing to {self.data_dir}") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Let go of the folder's lock."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def load(self) -> Committed | None:
        """The commit record on disk, or None when there is none (or it cannot be read)."""
        try:
            raw = (self.state_dir / STATE_FILE).read_text()
        except FileNotFoundError:
            return None
        try:
            return Committed.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None

    def open(self, now: float, session_of: Callable[[float], str]) -> Committed:
        """Repair what a crash left, start a new session after ``now`` and commit it.

        ``session_of`` turns epoch seconds into a session label (``layout.session_label``).
        """
        previous = self.load()
        if previous is not None:
            self.committed = previous
            self.recover()
        else:
            self._repair_newest()
        taken = {df.session for df in layout_files(self.data_dir)}
        if previous is not None:
            taken.add(previous.session)
        # A session must sort after every earlier one, or a reader taking files in session order
        # would see rows out of order: start after the newest session seen, even if that one was
        # named a little ahead of the clock (after quick restarts) or the clock went back.
        t = int(now)
        newest = max(taken, default="")
        if newest:
            t = max(t, int(session_start(newest)) + 1)
        label = session_of(t)
        fresh = Committed(session=label, streams=dict(previous.streams) if previous else {})
        self.save(fresh)
        self.committed = fresh
        return fresh

    # -- repair ----------------------------------------------------------------------------

    def recover(self) -> None:
        """Cut every file of the current session back to the commit record (idempotent)."""
        c = self.committed
        if c is None:
            return
        try:
            for df in layout_files(self.data_dir):
                if df.session != c.session:
                    continue
                pos = c.series.get((df.kind, df.stored_name, df.tf))
                if pos is None or df.chunk > pos.chunk:
                    df.path.unlink()  # created after the last commit: only uncommitted rows
                    self.repaired += 1
                elif df.chunk == pos.chunk:
                    size = df.path.stat().st_size
                    if size > pos.size:
                        with open(df.path, "r+b") as fh:
                            fh.truncate(pos.size)
                            os.fsync(fh.fileno())
                        self.repaired += 1
            self._repair_newest()
        except OSError as exc:
            raise DiskError(self.data_dir, exc) from None

    def _repair_newest(self) -> None:
        newest: dict[SeriesKey, tuple[str, int, Path]] = {}
        for df in layout_files(self.data_dir):
            key = (df.kind, df.stored_name, df.tf)
            cand = (df.session, df.chunk, df.path)
            if key not in newest or cand[:2] > newest[key][:2]:
                newest[key] = cand
        for _, _, path in newest.values():
            if repair_torn(path):
                self.repaired += 1

    # -- commit ----------------------------------------------------------------------------

    def save(self, state: Committed) -> None:
        """Write the commit record atomically and durably."""
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / (STATE_FILE + ".tmp")
            with open(tmp, "w") as fh:
                json.dump(state.to_json(), fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.state_dir / STATE_FILE)
            _fsync_dir(self.state_dir)
        except OSError as exc:
            raise DiskError(self.state_dir, exc) from None

    def positions(self) -> dict[SeriesKey, Position]:
        """Chunk and rows of every series of the current session, for :func:`writer.plan`."""
        assert self.committed is not None
        return {k: Position(p.chunk, p.rows) for k, p in self.committed.series.items()}

    def commit(
        self, appends: Iterable[Append], moved: Mapping[SeriesKey, Position], streams: Mapping[str, str]
    ) -> int:
        """Append, fsync, then record the batch as committed; returns the files created.

        On any failure raises :class:`DiskError`; the caller then calls :meth:`recover` (which
        undoes the partial batch) before trying again.
        """
        c = self.committed
        assert c is not None
        sizes: dict[SeriesKey, int] = {}
        new_dirs: set[Path] = set()
        created = 0
        path = self.data_dir
        appends = list(appends)
        # Many files: write them all, then one filesystem-wide sync (one journal commit instead of
        # one per file). A few: fsync each, which leaves other programs' pending writes alone.
        whole_fs = len(appends) > FSYNC_EACH_UP_TO and _syncfs is not None
        try:
            for ap in appends:
                path = file_of(self.data_dir, ap.key, c.session, ap.chunk)
                if not path.parent.is_dir():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    new_dirs.add(path.parent.parent)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    end = os.lseek(fd, 0, os.SEEK_END)
                    data = "".join(ap.lines).encode()
                    if end == 0:
                        data = _HEADERS[ap.key[0]] + data
                        new_dirs.add(path.parent)
                        created += 1
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if not whole_fs:
                        os.fsync(fd)
                    sizes[ap.key] = end + len(data)
                finally:
                    os.close(fd)
            if whole_fs:
                path = self.data_dir
                _sync_filesystem(self.data_dir)
            else:
                for d in new_dirs:
                    path = d
                    _fsync_dir(d)
        except OSError as exc:
            raise DiskError(path, exc) from None
        series = dict(c.series)
        for key, pos in moved.items():
            series[key] = FilePos(pos.chunk, pos.rows, sizes[key])
        merged = dict(c.streams)
        merged.update(streams)
        fresh = Committed(session=c.session, streams=merged, series=series)
        self.save(fresh)
        self.committed = fresh
        return created
