"""The file layout: names, escaping of hostile asset names, listing without leaving the folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from quantumflux.files import layout
from quantumflux.files.layout import (
    asset_from_safe_name,
    candle_file,
    iso_utc,
    iter_data_files,
    safe_name,
    session_label,
    tick_file,
)

HOSTILE = ["../../etc/x", "a/b", "..", ".", "\x00", "con", "x" * 300, "a\\b", "%2F", "/abs", "\n", "é€"]


def test_normal_names_stay_readable() -> None:
    assert safe_name("EURUSD_otc") == "EURUSD_otc"
    assert safe_name("#AAPL_otc") == "#AAPL_otc"


@pytest.mark.parametrize("asset", HOSTILE)
def test_hostile_names_stay_inside_the_folder(asset: str, tmp_path: Path) -> None:
    name = safe_name(asset)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..") and not name.startswith(".")
    assert len(name.encode()) <= 200
    for path in (
        tick_file(tmp_path, asset, "20261122T030500Z", 1),
        candle_file(tmp_path, asset, 60, "20261122T030500Z", 1),
    ):
        # The file sits directly in its layout folder, whatever the asset is called.
        assert path.parent.parent == tmp_path / "realtime_stream"
        assert os.path.realpath(path).startswith(os.path.realpath(tmp_path) + os.sep)
        assert len(path.name.encode()) <= 255


@given(st.text(min_size=1, max_size=60))
def test_escaping_is_reversible(asset: str) -> None:
    assume("%~" not in safe_name(asset))  # overlong names are cut (next test)
    assert asset_from_safe_name(safe_name(asset)) == asset


def test_only_overlong_names_are_cut() -> None:
    long_a, long_b = "A" * 300, "A" * 299 + "B"
    assert safe_name(long_a) != safe_name(long_b)  # a hash keeps them apart
    assert "%~" in safe_name(long_a)


def test_file_names_follow_the_contract(tmp_path: Path) -> None:
    assert candle_file(tmp_path, "EURUSD_otc", 300, "20261122T030500Z", 7) == (
        tmp_path / "realtime_stream/5M_candle_data/EURUSD_otc_5M_20261122T030500Z_0007.csv"
    )
    assert tick_file(tmp_path, "#AAPL_otc", "20261122T030500Z", 12) == (
        tmp_path / "realtime_stream/tick_data/#AAPL_otc_ticks_20261122T030500Z_0012.csv"
    )
    assert layout.TF_LABELS == ("1S", "5S", "10S", "15S", "30S", "1M", "5M", "15M", "1H", "4H", "1D")


def test_times() -> None:
    ts = datetime(2026, 11, 22, 3, 5, 0, tzinfo=UTC).timestamp()
    assert session_label(ts) == "20261122T030500Z"
    assert iso_utc(ts, millis=False) == "2026-11-22T03:05:00Z"
    assert iso_utc(ts + 0.125, millis=True) == "2026-11-22T03:05:00.125Z"
    assert iso_utc(ts + 0.9996, millis=True) == "2026-11-22T03:05:01.000Z"


def test_listing_reads_names_and_ignores_the_rest(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "EURUSD_otc_ticks_20261122T030500Z_0001.csv").write_text("timestamp,price\n")
    data = tmp_path / "data"
    files = [
        tick_file(data, "a/b", "20261122T030500Z", 2),
        tick_file(data, "a/b", "20261122T030500Z", 1),
        candle_file(data, "EURUSD_otc", 60, "20261122T030500Z", 1),
    ]
    for f in files:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("x\n")
    ticks = data / "realtime_stream/tick_data"
    (ticks / "notes.txt").write_text("not data")
    (ticks / "EURUSD_otc_1M_20261122T030500Z_0001.csv").write_text("wrong folder\n")
    (ticks / "link_ticks_20261122T030500Z_0001.csv").symlink_to(
        outside / "EURUSD_otc_ticks_20261122T030500Z_0001.csv"
    )
    (data / "realtime_stream/1M_candle_data_evil").symlink_to(outside)
    (data / "realtime_stream/7X_candle_data").mkdir()
    found = list(iter_data_files(data))
    assert [(d.kind, d.asset, d.tf, d.chunk) for d in found] == [
        ("candles", "EURUSD_otc", 60, 1),
        ("ticks", "a/b", None, 1),
        ("ticks", "a/b", None, 2),
    ]
    assert all(str(d.path).startswith(str(data)) for d in found)
