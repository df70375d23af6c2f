"""The files' commit record and the repair after a crash, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantumflux.files.layout import iter_data_files, session_label
from quantumflux.files.rows import plan
from quantumflux.persistence.store import LockedError, Store

T0 = 1795835100.0
KEY = ("ticks", "EURUSD_otc", None)
SIZES = {"ticks": 3, "candles": 3}


def _commit(store: Store, lines: list[str], last_id: str) -> None:
    appends, moved = plan(store.positions(), {KEY: lines}, SIZES)
    store.commit(appends, moved, {"s": last_id})


def _contents(data: Path) -> list[str]:
    out: list[str] = []
    for df in iter_data_files(data):
        text = df.path.read_text()
        assert text.startswith("timestamp,price\n")
        out += text.splitlines()[1:]
    return out


def test_rows_written_after_the_last_commit_are_undone_on_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data)
    store.open(T0, session_label)
    _commit(store, ["a\n", "b\n"], "1-0")
    # The process wrote and fsynced more rows, even a new chunk, then died before its commit record.
    appends, _ = plan(store.positions(), {KEY: ["c\n", "d\n", "e\n"]}, SIZES)
    assert [a.chunk for a in appends] == [1, 2]
    session = store.committed.session  # type: ignore[union-attr]
    for a in appends:
        path = data / "realtime_stream/tick_data" / f"EURUSD_otc_ticks_{session}_{a.chunk:04d}.csv"
        header = "" if path.exists() else "timestamp,price\n"
        with open(path, "a") as fh:
            fh.write(header + "".join(a.lines))
    assert _contents(data) == ["a", "b", "c", "d", "e"]

    again = Store(data)
    state = again.open(T0, session_label)
    assert state.streams == {"s": "1-0"}  # redelivered entries after 1-0 will be written anew
    assert _contents(data) == ["a", "b"]
    assert state.session != session  # a new session, never mixed with the old files
    _commit(again, ["c\n", "d\n"], "2-0")
    assert _contents(data) == ["a", "b", "c", "d"]


def test_a_torn_last_line_is_cut(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = Store(data)
    store.open(T0, session_label)
    _commit(store, ["a\n", "b\n"], "1-0")
    newest = max(iter_data_files(data), key=lambda d: d.chunk).path
    with open(newest, "a") as fh:
        fh.write("2026-11-2")
    Store(data).open(T0, session_label)
    assert newest.read_text() == "timestamp,price\na\nb\n"


def test_a_torn_line_is_cut_even_without_a_commit_record(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = data / "realtime_stream/tick_data"
    folder.mkdir(parents=True)
    f = folder / "EURUSD_otc_ticks_20261122T030500Z_0001.csv"
    f.write_text("timestamp,price\n2026-11-22T03:05:00.000Z,1.1\n2026-11-22T03:0")
    half = folder / "GBPUSD_otc_ticks_20261122T030500Z_0001.csv"
    half.write_text("timest")
    Store(data).open(T0, session_label)
    assert f.read_text() == "timestamp,price\n2026-11-22T03:05:00.000Z,1.1\n"
    assert not half.exists()


def test_two_services_cannot_write_one_folder(tmp_path: Path) -> None:
    first = Store(tmp_path)
    first.lock()
    with pytest.raises(LockedError):
        Store(tmp_path).lock()
    first.unlock()
    Store(tmp_path).lock()


def test_sessions_never_collide(tmp_path: Path) -> None:
    a = Store(tmp_path)
    s1 = a.open(T0, session_label).session
    _commit(a, ["a\n"], "1-0")
    s2 = Store(tmp_path).open(T0, session_label).session  # restarted within the same second
    assert s2 > s1
