"""Key names, partitions, timeframes and settings of the shared contract."""

from __future__ import annotations

import subprocess
import sys
import zlib

import pytest
from pydantic import ValidationError

from quantumflux.bus import KeyName, Keys, partition_of
from quantumflux.bus.config import BusSettings, UnknownSettingError, check_environment
from quantumflux.bus.timeframes import TimeframeError, file_label, label, parse_timeframe, parse_timeframes

ASSETS = ["EURUSD_otc", "GBPUSD_otc", "#AAPL_otc", "BNB-USD_otc", "AEDCNY_otc", "Ünïcode"]


def test_key_names_follow_the_contract():
    k = Keys("qf")
    assert k.ticks(3) == "qf:ticks:{3}"
    assert k.candles(60) == "qf:candles:60"
    assert k.bars(14400) == "qf:bars:14400"
    assert k.events() == "qf:events"
    assert k.series("EURUSD_otc", 300) == "qf:series:EURUSD_otc:300"
    assert k.health("candles", "h-1") == "qf:health:candles:h-1"


def test_every_key_parses_back_into_its_parts():
    k = Keys("qf")
    assert k.parse(k.ticks(3)) == KeyName("ticks", partition=3)
    assert k.parse(k.candles(60).encode()) == KeyName("candles", tf=60)
    assert k.parse(k.bars(14400)) == KeyName("bars", tf=14400)
    for asset in [*ASSETS, "odd:name"]:
        assert k.parse(k.series(asset, 300)) == KeyName("series", asset=asset, tf=300)
    assert k.parse(k.health("candles", "h-1:2")) == KeyName("health", service="candles", instance="h-1:2")
    for single in (k.events(), k.signals(), k.paper(), k.orders(), k.payouts()):
        assert k.parse(single) == KeyName(single.split(":")[1])
    assert k.parse(k.private("signals", "window", 60, "EURUSD_otc")) == KeyName(
        "svc", service="signals", parts=("window", "60", "EURUSD_otc")
    )


@pytest.mark.parametrize(
    "key",
    [
        "other:bars:60",
        "qf:bars:x",
        "qf:bars:0",
        "qf:ticks:3",
        "qf:series:60",
        "qf:health:candles",
        "qf:nope",
        "qf",
    ],
)
def test_a_key_that_is_not_of_the_contract_parses_to_none(key):
    assert Keys("qf").parse(key) is None


def test_partition_is_crc32_mod_p_and_the_same_in_another_process():
    here = [partition_of(a, 4) for a in ASSETS]
    assert here == [zlib.crc32(a.encode()) % 4 for a in ASSETS]
    code = "import sys; from quantumflux.bus import partition_of; print([partition_of(a, 4) for a in sys.argv[1:]])"
    out = subprocess.run([sys.executable, "-c", code, *ASSETS], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(here)
    # Python's own hash() is salted per process; the partition must not depend on it.
    out2 = subprocess.run(
        [sys.executable, "-c", code, *ASSETS],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "7"},
    )
    assert out2.stdout.strip() == str(here)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("1m", 60), ("5s", 5), ("4h", 14400), ("1d", 86400), ("60", 60), (300, 300), ("15M", 900)],
)
def test_timeframes_read_labels_and_seconds(given, seconds):
    assert parse_timeframe(given) == seconds


def test_timeframe_labels():
    assert [label(s) for s in (1, 5, 60, 900, 3600, 14400, 86400, 90)] == [
        "1s",
        "5s",
        "1m",
        "15m",
        "1h",
        "4h",
        "1d",
        "90s",
    ]
    assert file_label(60) == "1M" and file_label(5) == "5S" and file_label(14400) == "4H"
    assert parse_timeframes("5m, 1m,1m;1h") == (60, 300, 3600)


@pytest.mark.parametrize("bad", ["", "1x", "-5m", "0", "m", True, 1.5])
def test_bad_timeframes_are_refused(bad):
    with pytest.raises(TimeframeError):
        parse_timeframe(bad)


def test_unknown_qf_variables_are_an_error_with_a_hint():
    check_environment({"QF_PREFIX": "x", "QF_REDIS_URL": "redis://h", "PATH": "/bin"})
    with pytest.raises(UnknownSettingError, match=r"QF_PARTITONS.*QF_PARTITIONS"):
        check_environment({"QF_PARTITONS": "8"})


def test_settings_are_frozen_and_validated(monkeypatch):
    monkeypatch.setenv("QF_PARTITIONS", "8")
    s = BusSettings()
    assert s.partitions == 8
    assert BusSettings(partitions=2).partitions == 2  # flags override the environment
    with pytest.raises(ValidationError):
        s.partitions = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="plain word"):
        BusSettings(prefix="bad:prefix")
    with pytest.raises(ValidationError, match="nonsense"):
        BusSettings(nonsense=1)  # type: ignore[call-arg]


def test_private_keys_never_share_a_name_with_the_public_streams():
    k = Keys("qf")
    assert k.private("candles", "lease", 3) == "qf:svc:candles:lease:3"
    assert not k.private("candles", "state", 0).startswith(k.candles(0).rsplit(":", 1)[0] + ":")
    assert not k.private("signals", "state").startswith(k.signals() + ":")
