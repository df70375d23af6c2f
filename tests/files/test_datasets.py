"""Datasets: discovery of both layouts, stitching chunks, overlaps, gaps, safe ids."""

from __future__ import annotations

import calendar
import os
from pathlib import Path

import numpy as np
import pytest

from quantumflux.files import datasets
from quantumflux.files.datasets import DatasetError
from quantumflux.files.layout import candle_file, iso_utc

T0 = calendar.timegm((2026, 6, 14, 10, 0, 0))


def write_chunk(path: Path, times: list[int], price: float = 1.1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["timestamp,open,high,low,close,ticks"]
    for k, t in enumerate(times):
        p = round(price + k * 1e-5, 5)
        lines.append(f"{iso_utc(t, False)},{p},{p},{p},{p},3")
    path.write_text("\n".join(lines) + "\n")


def test_chunks_are_stitched_in_order_with_overlaps_removed_and_gaps_reported(tmp_path: Path) -> None:
    minute = [T0 + 60 * i for i in range(300)]
    # Session 1: chunks of 100 rows; session 2 repeats the last 10 candles and then resumes after a gap.
    write_chunk(candle_file(tmp_path, "EURUSD_otc", 60, "20260614T100000Z", 0), minute[:100])
    write_chunk(candle_file(tmp_path, "EURUSD_otc", 60, "20260614T100000Z", 1), minute[100:200], 2.0)
    write_chunk(
        candle_file(tmp_path, "EURUSD_otc", 60, "20260614T133000Z", 0), minute[190:200] + minute[203:300], 3.0
    )
    write_chunk(
        candle_file(tmp_path, "#AAPL/otc", 300, "20260614T100000Z", 0), [T0 + 300 * i for i in range(5)]
    )
    catalogue = datasets.discover(tmp_path)
    on_disk = {k for k, d in catalogue.items() if not d.derived_from}
    assert on_disk == {"EURUSD_otc-1m", datasets.dataset_id("#AAPL/otc", 300)}
    ds = catalogue["EURUSD_otc-1m"]
    assert ds.timeframe == 60 and len(ds.files) == 3 and ds.source == "realtime_stream"
    candles, report = datasets.load(ds)
    assert candles["time"].tolist() == minute[:200] + minute[203:300]
    # Where files overlap, the earlier file's row is kept.
    assert candles["close"].iloc[195] == round(2.0 + 95e-5, 5)
    assert report.overlaps == 10
    assert report.gap_count == 1 and report.missing_candles == 3
    assert report.gaps[0].after == minute[199] and report.gaps[0].before == minute[203]
    assert report.timeframe.seconds == 60 and report.timeframe.fits
    d = report.as_dict()
    assert d["overlaps_removed"] == 10 and d["gaps"] == 1 and d["timeframe"] == "1m"


def test_the_older_layout_and_single_files(tmp_path: Path) -> None:
    write_chunk(
        tmp_path / "data_collect" / "5M_candles" / "GBPUSD_otc.csv", [T0 + 300 * i for i in range(20)]
    )
    (tmp_path / "data_collect" / "5M_candles" / "notes.txt").write_text("not data")
    catalogue = datasets.discover(tmp_path)
    assert [k for k, d in catalogue.items() if not d.derived_from] == ["GBPUSD_otc-5m-collect"]
    assert catalogue["GBPUSD_otc-5m-collect"].describe() | {"bytes": 0} == {
        "id": "GBPUSD_otc-5m-collect",
        "asset": "GBPUSD_otc",
        "timeframe": "5m",
        "source": "data_collect",
        "files": 1,
        "bytes": 0,
        "derived_from": None,
    }
    single = datasets.file_dataset(tmp_path / "data_collect" / "5M_candles" / "GBPUSD_otc.csv")
    candles, report = datasets.load(single)
    assert len(candles) == 20 and report.timeframe.seconds == 300


@pytest.mark.parametrize("bad", ["../secret", "/etc/passwd", "a/b", "..", ".hidden", "x\\y", "", "a b"])
def test_path_like_ids_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(DatasetError, match="not a dataset id"):
        datasets.lookup(datasets.discover(tmp_path), bad)


def test_unknown_ids_suggest_close_names(tmp_path: Path) -> None:
    write_chunk(candle_file(tmp_path, "EURUSD_otc", 60, "20260614T100000Z", 0), [T0, T0 + 60])
    # 2m is never offered (no 2-minute timeframe), so it is not derived from the minutes either.
    with pytest.raises(DatasetError, match=r"did you mean .*EURUSD_otc-1m"):
        datasets.lookup(datasets.discover(tmp_path), "EURUSD_otc-2m")


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "data_collect" / "1M_candles"
    write_chunk(outside / "SECRET.csv", [T0, T0 + 60])
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(tmp_path / "outside" / "data_collect", data / "data_collect")
    assert datasets.discover(data) == {}


def test_ids_are_url_safe_and_distinct() -> None:
    ids = {datasets.dataset_id(a, 60) for a in ["EUR/USD", "EUR_USD", "EUR USD", "€UR"]}
    assert len(ids) == 4
    assert all(np.all([c.isalnum() or c in "_-." for c in i]) for i in ids)


def test_older_files_of_one_asset_are_stitched_into_one_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "data_collect" / "1M_candles"
    minute = [T0 + 60 * i for i in range(300)]
    write_chunk(folder / "EURUSD_otc_1m_20260614.csv", minute[:120], 1.1)
    write_chunk(folder / "EURUSD_otc_1m_20260615.csv", minute[100:250], 2.0)  # 20 candles again
    write_chunk(folder / "EURUSD_OTC-part3.csv", minute[260:300], 3.0)
    write_chunk(folder / "GBPUSD.csv", minute[:30])
    write_chunk(folder / "export_3.csv", minute[:10])
    write_chunk(folder / "candles.csv", minute[:5])
    catalogue = datasets.discover(tmp_path)
    assert sorted(k for k, d in catalogue.items() if not d.derived_from) == [
        "EURUSD_otc-1m-collect",
        "GBPUSD-1m-collect",
        "candles-1m-collect",
        "export_3-1m-collect",
    ]
    eur = catalogue["EURUSD_otc-1m-collect"]
    assert eur.asset == "EURUSD_otc" and eur.timeframe == 60 and eur.source == "data_collect"
    assert [p.name for p in eur.files] == [
        "EURUSD_OTC-part3.csv",
        "EURUSD_otc_1m_20260614.csv",
        "EURUSD_otc_1m_20260615.csv",
    ]
    candles, report = datasets.load(eur)
    assert candles["time"].tolist() == sorted(set(minute[:250]) | set(minute[260:300]))
    assert report.overlaps == 20 and report.gap_count == 1 and report.missing_candles == 10
    # Where the two days overlap, the first day's file (earlier by name) keeps its rows.
    assert candles["close"].iloc[110] == round(1.1 + 110e-5, 5)
    assert catalogue["export_3-1m-collect"].asset == "export_3"
    assert len(catalogue["export_3-1m-collect"].files) == 1


@pytest.mark.parametrize(
    ("stem", "asset"),
    [
        ("EURUSD_otc", "EURUSD_otc"),
        ("EURUSD_otc_1m_20240101", "EURUSD_otc"),
        ("EURUSD_OTC-2", "EURUSD_otc"),
        ("#AAPL_otc_1M_part1", "#AAPL_otc"),
        ("EURUSD", "EURUSD"),
        ("EURUSD_5m", "EURUSD"),
        ("US100 2024", "US100"),
        ("export_3", None),
        ("candles", None),
        ("eurusd_otc", None),
        ("Eurusd", None),
        ("X", None),
        ("_otc", None),
    ],
)
def test_the_asset_read_from_an_older_file_name(stem: str, asset: str | None) -> None:
    assert datasets.asset_from_file_name(stem) == asset
