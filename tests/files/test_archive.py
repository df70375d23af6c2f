"""The Parquet archive gives what the CSV files hold, however they change, and survives races."""

from __future__ import annotations

import calendar
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from quantumflux.files import archive, datasets
from quantumflux.files.cells import LoadError
from quantumflux.files.layout import iter_data_files
from tests.files.chunks import Writer, walk

# 30 June 2026 20:00 UTC: a day of minutes crosses into July, so two month files.
T0 = calendar.timegm((2026, 6, 30, 20, 0, 0))
ROOT = Path(__file__).resolve().parents[2]


def both(data: Path, ds_id: str = "EURUSD_otc-1m") -> tuple[pd.DataFrame, datasets.DataReport]:
    """The dataset through the archive, after checking it equals reading every CSV file."""
    ds = datasets.discover(data)[ds_id]
    fast, fast_report = datasets.load(ds)
    slow, slow_report = datasets.load(ds, archive=False)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast_report == slow_report
    return fast, fast_report


def month_files(data: Path) -> list[str]:
    folder = data / archive.ARCHIVE_FOLDER / "1M_candles" / "EURUSD_otc"
    return sorted(p.name for p in folder.iterdir())


def test_the_archive_equals_the_csv_files_through_appends(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    candles = walk(1000, T0, 60)
    w.candles("EURUSD_otc", 60, candles[:450])
    frame, report = both(tmp_path)
    assert len(frame) == 450 and report.files == 5
    # Four closed chunks are archived by the month they start in; the open fifth stays CSV only.
    assert month_files(tmp_path) == ["2026-06.parquet", "2026-07.parquet"]
    fresh = archive.compact(
        archive.series_of(tmp_path, "candles", 60, datasets.discover(tmp_path)["EURUSD_otc-1m"].files)
    )
    assert fresh == 4
    w.candles("EURUSD_otc", 60, candles[450:1000])
    frame, report = both(tmp_path)
    assert frame["time"].tolist() == [c.time for c in candles] and report.files == 10
    # The last chunk is full (100 rows), so it is closed and archived too.
    ds = datasets.discover(tmp_path)["EURUSD_otc-1m"]
    assert archive.compact(archive.series_of(tmp_path, "candles", 60, ds.files)) == 10
    assert not [n for n in os.listdir(tmp_path / ".archive/1M_candles/EURUSD_otc") if n.endswith(".tmp")]


def test_a_rewritten_or_deleted_chunk_rebuilds_its_month(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.candles("EURUSD_otc", 60, walk(600, T0, 60))
    both(tmp_path)
    files = sorted(p.path for p in iter_data_files(tmp_path))
    files[1].unlink()
    frame, report = both(tmp_path)
    assert len(frame) == 500 and report.files == 5 and report.gap_count == 1
    # Same size, another tick count: only the modification time tells.
    lines = files[2].read_text().split("\n")
    cells = lines[1].split(",")
    cells[5] = "9" if cells[5] != "9" else "8"
    lines[1] = ",".join(cells)
    files[2].write_text("\n".join(lines))
    os.utime(files[2], ns=(1, 1))
    frame, _ = both(tmp_path)
    assert frame["ticks"].iloc[100] == int(cells[5])


def test_a_torn_last_line_reads_as_the_csv_reader_reads_it(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.candles("EURUSD_otc", 60, walk(250, T0, 60))
    both(tmp_path)
    tail = sorted(p.path for p in iter_data_files(tmp_path))[-1]
    with tail.open("a") as fh:
        fh.write("2026-07-01T00:10:00Z,1.1,1.1")  # a crash in the middle of a row
    with pytest.raises(LoadError) as fast:
        datasets.load(datasets.discover(tmp_path)["EURUSD_otc-1m"])
    with pytest.raises(LoadError) as slow:
        datasets.load(datasets.discover(tmp_path)["EURUSD_otc-1m"], archive=False)
    assert str(fast.value) == str(slow.value)
    # A torn line in a closed chunk keeps that chunk out of the archive, with the same error.
    closed = sorted(p.path for p in iter_data_files(tmp_path))[0]
    tail.write_text(tail.read_text().rsplit("\n", 1)[0] + "\n")
    with closed.open("a") as fh:
        fh.write("2026-07-01T00:10:00Z,1.1,")
    with pytest.raises(LoadError) as fast:
        datasets.load(datasets.discover(tmp_path)["EURUSD_otc-1m"])
    assert closed.name in str(fast.value)
    closed.write_text(closed.read_text().rsplit("\n", 1)[0] + "\n")
    both(tmp_path)


def test_older_columns_and_other_layouts_read_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "realtime_stream" / "1M_candle_data"
    folder.mkdir(parents=True)
    for chunk in range(3):  # six columns, epoch milliseconds: the archive takes them as the reader does
        rows = ["time,o,h,l,c,vol"]
        rows += [f"{(T0 + 60 * (100 * chunk + i)) * 1000},1.1,1.2,1.0,1.15,{i}" for i in range(100)]
        (folder / f"EURUSD_otc_1M_20260614T100000Z_{chunk:04d}.csv").write_text("\n".join(rows) + "\n")
    frame, _ = both(tmp_path)
    assert frame["volume"].isna().all() and (frame["complete"] == 1).all() and len(frame) == 300


def test_ticks_come_back_as_written(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    ts = [T0 + 0.25 * i for i in range(3500)]
    w.ticks("EURUSD_otc", ts, [1.1 + (i % 7) * 1e-5 for i in range(3500)])
    files = sorted(d.path for d in iter_data_files(tmp_path) if d.kind == "ticks")
    series = archive.series_of(tmp_path, "ticks", None, files)
    parts = archive.parts(series)
    got = pd.concat([p.candles for p in parts], ignore_index=True)
    assert got["ts"].tolist() == ts and sum(p.files for p in parts) == 4
    assert archive.compact(series) == 3
    assert (tmp_path / ".archive/ticks/EURUSD_otc/2026-06.parquet").is_file()


COMPACT = """
import sys
from quantumflux.files import archive, datasets
ds = datasets.discover(sys.argv[1])["EURUSD_otc-1m"]
for _ in range(3):
    archive.compact(archive.series_of(sys.argv[1], "candles", 60, ds.files))
"""


def test_two_processes_compacting_at_once_leave_a_correct_archive(tmp_path: Path) -> None:
    Writer(tmp_path).candles("EURUSD_otc", 60, walk(3000, T0, 60))
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", COMPACT, str(tmp_path)], env=env, cwd=ROOT) for _ in range(2)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert month_files(tmp_path) == ["2026-06.parquet", "2026-07.parquet"]
    manifests = archive.read_manifests(tmp_path / ".archive/1M_candles/EURUSD_otc")
    assert sum(len(m or []) for m in manifests.values()) == 30
    frame, _ = both(tmp_path)
    assert len(frame) == 3000


def test_a_same_size_rewrite_in_the_same_second_rebuilds_its_month(tmp_path: Path) -> None:
    w = Writer(tmp_path)
    w.candles("EURUSD_otc", 60, walk(600, T0, 60))
    both(tmp_path)
    path = sorted(p.path for p in iter_data_files(tmp_path))[2]
    before = path.stat()
    lines = path.read_text().split("\n")
    cells = lines[1].split(",")
    cells[5] = "9" if cells[5] != "9" else "8"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines))
    # The same size and the same second as when it was archived: only the nanoseconds differ.
    second = before.st_mtime_ns - before.st_mtime_ns % 1_000_000_000
    moved = second + (before.st_mtime_ns + 1) % 1_000_000_000
    os.utime(path, ns=(before.st_atime_ns, moved))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns // 10**9 == second // 10**9
    frame, _ = both(tmp_path)
    assert frame["ticks"].iloc[200] == int(cells[5])


def test_an_unreadable_month_file_is_rebuilt_from_the_csv_files(tmp_path: Path) -> None:
    Writer(tmp_path).candles("EURUSD_otc", 60, walk(600, T0, 60))
    both(tmp_path)
    month = tmp_path / archive.ARCHIVE_FOLDER / "1M_candles" / "EURUSD_otc" / "2026-06.parquet"
    month.write_bytes(month.read_bytes()[:200])  # cut short, as by a full disk
    frame, _ = both(tmp_path)
    assert len(frame) == 600
    manifests = archive.read_manifests(month.parent)
    assert manifests["2026-06"] is not None and sum(len(m or []) for m in manifests.values()) == 6


def test_the_archived_chunks_and_the_open_tail_come_back_as_one_frame(tmp_path: Path) -> None:
    Writer(tmp_path).candles("EURUSD_otc", 60, walk(450, T0, 60))
    frame, report = both(tmp_path)
    assert len(frame) == 450 and report.files == 5
    series = archive.series_of(tmp_path, "candles", 60, datasets.discover(tmp_path)["EURUSD_otc-1m"].files)
    parts = archive.parts(series)
    # Four archived chunks in two month files, then the open fifth read from its CSV file.
    assert len(parts) == 1 and parts[0].files == 5 and parts[0].rows == 450
    pd.testing.assert_frame_equal(parts[0].candles, frame, check_exact=True)


def test_a_load_between_two_times_keeps_every_row_between_them(tmp_path: Path) -> None:
    Writer(tmp_path).candles("EURUSD_otc", 3600, walk(3000, T0, 3600))  # hours: July to October
    ds = datasets.discover(tmp_path)["EURUSD_otc-1h"]
    every, _ = datasets.load(ds, archive=False)
    start, end = T0 + 3600 * 1500, T0 + 3600 * 2000
    inside = every[(every["time"] >= start) & (every["time"] <= end)].reset_index(drop=True)
    for _ in range(2):  # building the archive, then reading it
        frame, _ = datasets.load(ds, start, end)
        got = frame[(frame["time"] >= start) & (frame["time"] <= end)].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, inside, check_exact=True)
        assert len(frame) < len(every)  # the months wholly outside were left out
