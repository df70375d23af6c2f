"""The ``volume`` and ``complete`` columns, incomplete candles in datasets and ``qf data``, and
the payout files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from quantumflux.bus.records import Candle, Payout
from quantumflux.files import datasets
from quantumflux.files.columns import header_line
from quantumflux.files.inventory import inventory
from quantumflux.files.layout import iter_data_files, payout_file
from quantumflux.files.payouts import PayoutHistory, payout_history, read_payouts
from quantumflux.files.reader import LoadedFile, LoadError, incomplete_rows, read_candles
from quantumflux.files.rows import RowFormatter

T0 = 1795835100  # 2026-11-28T03:05:00Z, a whole minute


def _candles(n: int, incomplete: set[int], volume: dict[int, int]) -> list[Candle]:
    return [
        Candle(
            "EURUSD_otc", 60, T0 + 60 * i, 1.1, 1.3, 1.0, 1.2, 5 + i, True, i not in incomplete, volume.get(i)
        )
        for i in range(n)
    ]


def _write(path: Path, candles: list[Candle]) -> None:
    fmt = RowFormatter()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header_line("candles") + "".join(fmt.candle(c) for c in candles))


def test_written_rows_read_back_with_volume_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    _write(path, _candles(5, incomplete={1, 4}, volume={2: 812, 3: 0}))
    c = read_candles(path).candles
    assert c["complete"].tolist() == [1, 0, 1, 1, 0]
    assert [None if math.isnan(v) else int(v) for v in c["volume"].tolist()] == [None, None, 812, 0, None]
    assert c["ticks"].tolist() == [5, 6, 7, 8, 9]
    assert incomplete_rows(path) == 2


def test_a_file_with_ticks_and_volume_keeps_both(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("timestamp,open,high,low,close,ticks,volume\n2026-11-28T03:05:00Z,1,2,0.5,1.5,3,40\n")
    c = read_candles(path).candles
    assert (c["ticks"][0], c["volume"][0], c["complete"][0]) == (3, 40.0, 1)


def test_an_older_volume_column_is_still_the_tick_count(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("time,open,high,low,close,volume\n1795835100,1,2,0.5,1.5,17\n")
    c = read_candles(path).candles
    assert c["ticks"][0] == 17 and math.isnan(c["volume"][0]) and c["complete"][0] == 1


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("2026-11-28T03:05:00Z,1,2,0.5,1.5,3,,2", 8, "'2' is not 1 or 0"),
        ("2026-11-28T03:05:00Z,1,2,0.5,1.5,3,1.5,1", 7, "'1.5' is not a whole number"),
        ("2026-11-28T03:05:00Z,1,2,0.5,1.5,3,-4,1", 7, "'-4' is not a valid volume"),
        ("2026-11-28T03:05:00Z,1,2,0.5,1.5,3,,", 8, "empty complete"),
    ],
)
def test_bad_new_cells_are_named_by_line_and_column(
    tmp_path: Path, row: str, column: int, words: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(header_line("candles") + "2026-11-28T03:04:00Z,1,2,0.5,1.5,3,,1\n" + row + "\n")
    with pytest.raises(LoadError) as info:
        read_candles(path)
    assert (info.value.line, info.value.column) == (3, column)
    assert words in info.value.message


def test_datasets_count_incomplete_candles_and_drop_them_as_missing(tmp_path: Path) -> None:
    folder = tmp_path / "realtime_stream/1M_candle_data"
    _write(folder / "EURUSD_otc_1M_20261128T030000Z_0001.csv", _candles(6, incomplete={2, 3}, volume={}))
    ds = datasets.discover(tmp_path)["EURUSD_otc-1m"]
    assert ds.root == tmp_path
    frame, report = datasets.load(ds)
    assert report.incomplete == 2 and report.as_dict()["incomplete_candles"] == 2
    kept = datasets.drop_incomplete(frame)
    assert kept["time"].tolist() == [T0, T0 + 60, T0 + 240, T0 + 300]
    # Stitched again from the kept rows only, the two become a gap of two missing candles.
    again, gap_report = datasets.stitch(
        [read_candles(folder / "EURUSD_otc_1M_20261128T030000Z_0001.csv")], 60
    )
    assert len(again) == 6
    _, kept_report = datasets.stitch([_loaded(kept)], 60)
    assert (kept_report.gap_count, kept_report.missing_candles) == (1, 2)
    assert gap_report.missing_candles == 0


def _loaded(frame: object) -> LoadedFile:
    return LoadedFile(frame, len(frame), 0, 0)  # type: ignore[arg-type]


def test_qf_data_counts_incomplete_candles(tmp_path: Path) -> None:
    folder = tmp_path / "realtime_stream/1M_candle_data"
    _write(folder / "EURUSD_otc_1M_20261128T030000Z_0001.csv", _candles(4, incomplete={0}, volume={}))
    _write(folder / "EURUSD_otc_1M_20261128T030000Z_0002.csv", _candles(3, incomplete={1, 2}, volume={1: 9}))
    older = tmp_path / "realtime_stream/1M_candle_data/GBPUSD_otc_1M_20261128T030000Z_0001.csv"
    older.write_text("timestamp,open,high,low,close,ticks\n2026-11-28T03:05:00Z,1,2,0.5,1.5,3\n")
    found = {s.asset: s for s in inventory(tmp_path)}
    assert found["EURUSD_otc"].incomplete == 3
    assert found["GBPUSD_otc"].incomplete == 0


def test_payout_files_are_part_of_the_layout(tmp_path: Path) -> None:
    path = payout_file(tmp_path, "a/b", "20261128T030000Z", 2)
    assert path == tmp_path / "payouts" / "a%2Fb_payouts_20261128T030000Z_0002.csv"
    path.parent.mkdir(parents=True)
    path.write_text(header_line("payouts"))
    [df] = [d for d in iter_data_files(tmp_path) if d.kind == "payouts"]
    assert (df.asset, df.session, df.chunk, df.tf) == ("a/b", "20261128T030000Z", 2, None)
    # Payout changes are not market data: qf data does not list them.
    assert inventory(tmp_path) == []


def _payout_rows(path: Path, rows: list[Payout]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header_line("payouts") + "".join(RowFormatter.payout(p) for p in rows))


def test_payout_history_is_the_last_change_at_or_before_each_time(tmp_path: Path) -> None:
    a = "EURUSD_otc"
    _payout_rows(
        payout_file(tmp_path, a, "20261128T030000Z", 1),
        [Payout(a, T0 + 10.5, 92, True), Payout(a, T0 + 100, 85, True)],
    )
    _payout_rows(payout_file(tmp_path, a, "20261128T040000Z", 1), [Payout(a, T0 + 50.25, 80, False)])
    _payout_rows(
        payout_file(tmp_path, "GBPUSD_otc", "20261128T030000Z", 1), [Payout("GBPUSD_otc", T0, 60, True)]
    )
    assert read_payouts(payout_file(tmp_path, a, "20261128T040000Z", 1)) == [(T0 + 50.25, 80.0, False)]
    history = payout_history(tmp_path, a)
    times = [T0, T0 + 10.5, T0 + 30, T0 + 50.25, T0 + 99.999, T0 + 100, T0 + 1000]
    values, known = history.at(times)
    # Independently: walk the changes in time order.
    changes = sorted([(T0 + 10.5, 0.92), (T0 + 100, 0.85), (T0 + 50.25, 0.80)])
    want = [next((v for t0, v in reversed(changes) if t0 <= t), None) for t in times]
    assert known.tolist() == [w is not None for w in want]
    assert [
        None if not k else pytest.approx(v) for v, k in zip(values.tolist(), known.tolist(), strict=True)
    ] == want


def test_same_time_changes_keep_the_last_read() -> None:
    h = PayoutHistory.of([(5.0, 90.0, True), (1.0, 70.0, True), (5.0, 80.0, False)])
    assert (
        h.times.tolist() == [1.0, 5.0]
        and h.payouts.tolist() == [0.7, 0.8]
        and h.open.tolist() == [True, False]
    )
    values, known = h.at(np.array([0.0]))
    assert not known[0] and math.isnan(values[0])


def test_a_bad_payout_row_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("timestamp,payout,open\n2026-11-28T03:05:00.000Z,92,1\n2026-11-28T03:06:00.000Z,92,yes\n")
    with pytest.raises(LoadError) as info:
        read_payouts(path)
    assert (info.value.line, info.value.column) == (3, 3)
