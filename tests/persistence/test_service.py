"""The persistence service as a real process, against the real Redis and real files."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, Event, HistoryBatch, Payout, Tick, decode, pack
from quantumflux.bus.streams import groups as stream_groups
from quantumflux.files.layout import asset_from_safe_name, iter_data_files, safe_name

ROOT = Path(__file__).resolve().parents[2]
# The contract checker of the design folder; set CONTRACT_CHECK to its path to run it here too.
CONTRACT_CHECK = os.environ.get("CONTRACT_CHECK", "")
T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC).timestamp()
SESSION = re.compile(r"\d{8}T\d{6}Z")
TICK_ROW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CANDLE_ROW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# -- helpers -----------------------------------------------------------------------------------


class Service:
    """``python -m quantumflux.persistence`` as a child process."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        self.log = open(log, "ab")  # noqa: SIM115 (closed in kill/stop)
        self.log_from = self.log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "quantumflux.persistence", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()

    def started(self) -> bool:
        """The service has said it starts: past setting its signal handlers."""
        with open(self.log_path, "rb") as fh:
            fh.seek(self.log_from)
            return b"starting: " in fh.read()

    def stop(self) -> int:
        """SIGTERM once the service handles it (a SIGTERM earlier is not a stop it could answer)."""
        wait_until(lambda: self.started() or self.proc.poll() is not None, what="the service starting")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=15)
        self.log.close()
        return code


@pytest.fixture
def service(test_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(*args: str, **env: str) -> Service:
        s = Service({**test_env, **env}, tmp_path / "service.log", *args)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.kill()


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def drained(client: redis.Redis, streams: list[str]) -> bool:
    """Every entry of these streams was read and acknowledged by the persistence group."""
    for key in streams:
        try:
            groups = client.xinfo_groups(key)
        except redis.ResponseError:
            return False
        g = [g for g in groups if g["name"] == b"persistence"]
        if not g or g[0]["pending"]:
            return False
        # (Redis may not know the lag, e.g. after a restart: compare the ids instead.)
        if g[0]["last-delivered-id"] != client.xinfo_stream(key)["last-generated-id"]:
            return False
    return True


Published = Tick | Candle | HistoryBatch | Payout


def publish(client: redis.Redis, keys: Keys, records: list[Published]) -> None:
    pipe = client.pipeline(transaction=False)
    for i, rec in enumerate(records):
        if isinstance(rec, Payout):
            key = keys.payouts()
        else:
            key = keys.bars(rec.tf) if isinstance(rec, Candle) else keys.stream_of_ticks(rec.asset, 4)
        pipe.xadd(key, {"d": pack(rec)})
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()


# File names as DESIGN §4 gives them, written out here independently of the service's code.
CANDLE_NAME = re.compile(r".+_(?P<tf>\d+[SMHD])_\d{8}T\d{6}Z_\d{4}\.csv")
TICK_NAME = re.compile(r".+_ticks_\d{8}T\d{6}Z_\d{4}\.csv")
PAYOUT_NAME = re.compile(r".+_payouts_\d{8}T\d{6}Z_\d{4}\.csv")
HEADERS = {
    "ticks": "timestamp,price",
    "candles": "timestamp,open,high,low,close,ticks,volume,complete",
    "payouts": "timestamp,payout,open",
}
TF_FOLDERS = {
    f"{x}_candle_data" for x in ("1S", "5S", "10S", "15S", "30S", "1M", "5M", "15M", "1H", "4H", "1D")
}


def check_names(data: Path) -> None:
    """Nothing under realtime_stream/ but the layout's folders and file names."""
    root = data / "realtime_stream"
    for folder in root.iterdir():
        assert folder.name == "tick_data" or folder.name in TF_FOLDERS, folder.name
        for f in folder.iterdir():
            m = (TICK_NAME if folder.name == "tick_data" else CANDLE_NAME).fullmatch(f.name)
            assert m, f"{folder.name}/{f.name}"
            if folder.name != "tick_data":
                assert folder.name.startswith(m.group("tf") + "_")
    payouts = data / "payouts"
    for f in payouts.iterdir() if payouts.is_dir() else ():
        assert PAYOUT_NAME.fullmatch(f.name), f"payouts/{f.name}"


def on_disk(data: Path) -> dict[tuple[str, str, int | None], list[list[str]]]:
    """Rows per series, file after file in session and chunk order; every file's header checked."""
    check_names(data)
    out: dict[tuple[str, str, int | None], list[list[str]]] = {}
    files = sorted(iter_data_files(data), key=lambda d: (d.kind, d.asset, d.tf or 0, d.session, d.chunk))
    for df in files:
        text = df.path.read_text()
        assert text.endswith("\n"), f"{df.path.name} ends in a torn line"
        lines = text.splitlines()
        assert lines[0] == HEADERS[df.kind]
        rows = [line.split(",") for line in lines[1:]]
        pattern = CANDLE_ROW if df.kind == "candles" else TICK_ROW
        assert all(pattern.fullmatch(r[0]) for r in rows), df.path.name
        out.setdefault((df.kind, df.asset, df.tf), []).extend(rows)
    return out


def expected(records: list[Published]) -> dict[tuple[str, str, int | None], list[tuple]]:
    """What the files must hold, computed from the published records (stream order per series)."""
    out: dict[tuple[str, str, int | None], list[tuple]] = {}
    for r in records:
        if isinstance(r, Tick):
            out.setdefault(("ticks", r.asset, None), []).append((r.ts, r.price))
        elif isinstance(r, Candle) and r.closed:
            out.setdefault(("candles", r.asset, r.tf), []).append(
                (float(r.time), r.open, r.high, r.low, r.close, r.ticks, r.volume, r.complete)
            )
        elif isinstance(r, Payout):
            out.setdefault(("payouts", r.asset, None), []).append((r.ts, r.payout, r.open))
    return out


def parsed(rows: dict[tuple[str, str, int | None], list[list[str]]]) -> dict[tuple, list[tuple]]:
    def one(kind: str, row: list[str]) -> tuple:
        ts = datetime.fromisoformat(row[0]).timestamp()
        if kind == "ticks":
            return (ts, float(row[1]))
        if kind == "payouts":
            assert row[2] in ("0", "1")
            return (ts, float(row[1]), row[2] == "1")
        assert row[7] in ("0", "1")
        volume = int(row[6]) if row[6] else None
        return (ts, *(float(x) for x in row[1:5]), int(row[5]), volume, row[7] == "1")

    return {k: [one(k[0], r) for r in v] for k, v in rows.items()}


def events(client: redis.Redis, keys: Keys) -> list[Event]:
    out = []
    for _, fields in client.xrange(keys.events()):
        rec = decode(fields[b"d"])
        if isinstance(rec, Event) and rec.data.get("service") == "persistence":
            out.append(rec)
    return out


def ticks_of(asset: str, n: int, start: float = T0, price: float = 1.1) -> list[Tick]:
    # Times on whole milliseconds that floats hold exactly (quarters of a second).
    return [Tick(asset, start + i * 0.25, round(price + i * 1e-5, 6)) for i in range(n)]


def bars_of(asset: str, tf: int, times: list[int]) -> list[Candle]:
    # Every third bar incomplete, every other one with the broker's volume: both columns vary.
    return [
        Candle(
            asset, tf, t, 1.1, 1.3, 1.0, 1.2 + i * 1e-4, 5 + i, True, i % 3 != 2, 800 + i if i % 2 else None
        )
        for i, t in enumerate(times)
    ]


def ticks_and_bars(n: int) -> list[Tick | Candle | HistoryBatch]:
    """``n`` EURUSD_otc ticks and the asset's first two 1m bars."""
    minute = int(T0) // 60 * 60
    return [*ticks_of("EURUSD_otc", n), *bars_of("EURUSD_otc", 60, [minute, minute + 60])]


def all_streams(keys: Keys, tfs: tuple[int, ...]) -> list[str]:
    return keys.all_ticks(4) + [keys.bars(tf) for tf in tfs]


def contract_check(redis_url: str, prefix: str, data: Path) -> None:
    tool = Path(CONTRACT_CHECK)
    if not CONTRACT_CHECK or not tool.is_file():
        return
    res = subprocess.run(
        [sys.executable, str(tool), "--redis", redis_url, "--prefix", prefix, "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout + res.stderr


# -- tests -------------------------------------------------------------------------------------


def test_known_stream_gives_exact_files(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    minute = int(T0) // 60 * 60
    records: list[Published] = [
        *ticks_of("EURUSD_otc", 25),
        *ticks_of("#AAPL_otc", 7, price=190.0),
        HistoryBatch("EURUSD_otc", 60, ((minute - 60, 1.0, 1.2, 0.9, 1.1),), ((T0 - 1, 1.0),)),
        *bars_of("EURUSD_otc", 60, [minute + 60 * i for i in (0, 1, 2, 3, 4, 7, 8, 9, 10)]),  # 2 missing
        *bars_of("EURUSD_otc", 300, [minute + 300 * i for i in range(3)]),
        Candle("EURUSD_otc", 60, minute + 660, 1.1, 1.3, 1.0, 1.2, 3, False),  # not closed: not a row
        Payout("EURUSD_otc", T0 + 0.5, 92.0, True),
        Payout("#AAPL_otc", T0 + 1.25, 80.0, True),
        Payout("EURUSD_otc", T0 + 90.75, 87.5, False),
    ]
    publish(rclient, keys, records)
    rclient.xadd(keys.ticks(0), {"d": b"\xc1 not msgpack"})
    started = time.time()
    svc = service("--candle-chunk-size", "4", "--tick-chunk-size", "10")
    streams = [*all_streams(keys, (60, 300)), keys.payouts()]
    wait_until(lambda: drained(rclient, streams), what="all entries acknowledged")
    assert svc.stop() == 0

    names = sorted(str(d.path.relative_to(data)) for d in iter_data_files(data))
    session = names[0].rsplit("_", 2)[-2]
    assert SESSION.fullmatch(session)
    assert abs(datetime.strptime(session, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp() - started) < 10
    s = session
    assert names == sorted(
        [
            f"realtime_stream/1M_candle_data/EURUSD_otc_1M_{s}_0001.csv",
            f"realtime_stream/1M_candle_data/EURUSD_otc_1M_{s}_0002.csv",
            f"realtime_stream/1M_candle_data/EURUSD_otc_1M_{s}_0003.csv",
            f"realtime_stream/5M_candle_data/EURUSD_otc_5M_{s}_0001.csv",
            f"realtime_stream/tick_data/#AAPL_otc_ticks_{s}_0001.csv",
            f"realtime_stream/tick_data/EURUSD_otc_ticks_{s}_0001.csv",
            f"realtime_stream/tick_data/EURUSD_otc_ticks_{s}_0002.csv",
            f"realtime_stream/tick_data/EURUSD_otc_ticks_{s}_0003.csv",
            f"payouts/#AAPL_otc_payouts_{s}_0001.csv",
            f"payouts/EURUSD_otc_payouts_{s}_0001.csv",
        ]
    )
    counts = {d.path.name: len(d.path.read_text().splitlines()) - 1 for d in iter_data_files(data)}
    assert counts[f"EURUSD_otc_ticks_{s}_0001.csv"] == 10
    assert counts[f"EURUSD_otc_ticks_{s}_0003.csv"] == 5
    assert counts[f"EURUSD_otc_1M_{s}_0003.csv"] == 1
    first = (data / f"realtime_stream/tick_data/EURUSD_otc_ticks_{s}_0001.csv").read_text().splitlines()[:2]
    assert first == ["timestamp,price", "2026-11-22T03:00:00.000Z,1.1"]
    candle = (data / f"realtime_stream/5M_candle_data/EURUSD_otc_5M_{s}_0001.csv").read_text().splitlines()
    assert candle == [
        "timestamp,open,high,low,close,ticks,volume,complete",
        "2026-11-22T03:00:00Z,1.1,1.3,1.0,1.2,5,,1",
        "2026-11-22T03:05:00Z,1.1,1.3,1.0,1.2001,6,801,1",
        "2026-11-22T03:10:00Z,1.1,1.3,1.0,1.2002,7,,0",
    ]
    payouts = (data / f"payouts/EURUSD_otc_payouts_{s}_0001.csv").read_text()
    assert (
        payouts == "timestamp,payout,open\n2026-11-22T03:00:00.500Z,92,1\n2026-11-22T03:01:30.750Z,87.5,0\n"
    )
    assert parsed(on_disk(data)) == expected(records)

    res = subprocess.run(
        [sys.executable, "-m", "quantumflux.qf", "data", "--json", "--data-dir", str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    series = {(x["asset"], x["timeframe"]): x for x in json.loads(res.stdout)["series"]}
    assert series[("EURUSD_otc", "1m")]["rows"] == 9
    assert series[("EURUSD_otc", "1m")]["files"] == 3
    assert series[("EURUSD_otc", "1m")]["gaps"] == 1
    assert series[("EURUSD_otc", "1m")]["missing_candles"] == 2
    assert series[("EURUSD_otc", "1m")]["incomplete"] == 3  # bars 2, 5 and 8 of the nine
    assert series[("EURUSD_otc", "ticks")]["first"] == "2026-11-22T03:00:00.000Z"
    assert series[("EURUSD_otc", "ticks")]["last"] == "2026-11-22T03:00:06.000Z"
    assert series[("#AAPL_otc", "ticks")]["rows"] == 7

    states = [e.data["state"] for e in events(rclient, keys)]
    assert states[0] == "starting" and "running" in states and states[-1] == "stopped"


def test_sigkill_at_random_points_keeps_every_row_exactly_once(
    service: Callable[..., Service], rclient: redis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    assets = ["EURUSD_otc", "#AAPL_otc", "../../etc/x", "a/b", "..", "con", "\x00evil", "x" * 300]
    minute = int(T0) // 60 * 60
    records: list[Published] = []
    for i in range(80):  # 80 rounds: ticks of every asset, then its new bars (and payout changes)
        for j, a in enumerate(assets):
            records += ticks_of(a, 60, start=T0 + i * 15, price=1.0 + j)
            records += bars_of(a, 60, [minute + 60 * (4 * i + k) for k in range(4)])
            if i % 5 == 4:
                records += bars_of(a, 300, [minute + 300 * (i // 5)])
            if i % 10 == j % 10:
                records.append(Payout(a, T0 + i * 15 + 0.125, 70.0 + (i + j) % 23, i % 20 != 0))
    rng = random.Random()

    def feed(part: list[Published]) -> None:
        client = redis.Redis.from_url(redis_url)
        for k in range(0, len(part), 1000):
            publish(client, keys, part[k : k + 1000])
            time.sleep(0.02)
        client.close()

    def sessions() -> set[str]:
        return {d.session for d in iter_data_files(data)}

    kills = 0
    step = len(records) // 6 + 1
    for start in range(0, len(records), step):
        # New entries arrive while a fresh service starts; once it writes, kill it at a random moment.
        feeder = threading.Thread(target=feed, args=(records[start : start + step],))
        feeder.start()
        before = sessions()
        svc = service("--candle-chunk-size", "50", "--tick-chunk-size", "700")
        wait_until(lambda: sessions() - before != set(), what="the service writing")  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.3))
        svc.kill()
        kills += 1
        feeder.join()
    svc = service("--candle-chunk-size", "50", "--tick-chunk-size", "700")
    streams = [*all_streams(keys, (60, 300)), keys.payouts()]
    wait_until(lambda: drained(rclient, streams), timeout=60, what="all acknowledged")
    assert svc.stop() == 0

    assert kills == 6
    # Hostile names read back as the same assets; only the overlong one comes back cut.
    shown = {a: asset_from_safe_name(safe_name(a)) for a in assets}
    assert [a for a in assets if shown[a] != a] == ["x" * 300]
    want = {(k[0], shown[k[1]], k[2]): v for k, v in expected(records).items()}
    got = parsed(on_disk(data))
    assert got == want
    # (Fewer than 7 sessions usually remain: a process killed before its first commit leaves only
    # uncommitted files, which the next start removes, and their rows are written again once.)
    for path in tmp_path.rglob("*.csv"):
        assert path.resolve().is_relative_to(data.resolve())
    assert not (tmp_path / "etc").exists()
    contract_check(redis_url, prefix, data)


def test_torn_last_line_is_repaired_on_restart(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    first = ticks_of("EURUSD_otc", 30)
    publish(rclient, keys, first)
    svc = service()
    wait_until(lambda: drained(rclient, all_streams(keys, ())), what="first ticks written")
    svc.kill()
    newest = max(iter_data_files(data), key=lambda d: (d.session, d.chunk)).path
    with open(newest, "a") as fh:
        fh.write("2026-11-22T03:00:07.2")  # what a crash in the middle of a write leaves
    more = ticks_of("EURUSD_otc", 30, start=T0 + 100)
    publish(rclient, keys, more)
    svc = service()
    wait_until(lambda: drained(rclient, all_streams(keys, ())), what="more ticks written")
    assert svc.stop() == 0
    assert newest.read_text().endswith("\n")
    assert parsed(on_disk(data)) == expected(first + more)


def _chattr(flag: str, path: Path) -> bool:
    chattr = shutil.which("chattr")
    if not chattr:
        return False
    return subprocess.run([chattr, "-R", flag, str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("how", ["file_in_its_place", "immutable"])
def test_unwritable_data_folder_keeps_entries_waiting_and_recovers(
    how: str, service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    first = ticks_of("EURUSD_otc", 50)
    publish(rclient, keys, first)
    svc = service()
    streams = all_streams(keys, ())
    wait_until(lambda: drained(rclient, streams), what="first ticks written")

    # Tests run as root, where permissions do not stop writes. Either put a plain file where the
    # folder was ("Not a directory"), or make the folder and its files immutable (chattr +i: even
    # root gets "Operation not permitted"), the closest to a read-only disk a test can get.
    aside = tmp_path / "data.aside"
    if how == "file_in_its_place":
        data.rename(aside)
        data.write_text("not a folder")
    elif not _chattr("+i", data):
        pytest.skip("chattr +i does not work here")
    try:
        more = ticks_of("EURUSD_otc", 50, start=T0 + 100)
        publish(rclient, keys, more)

        def waiting() -> int:
            """Entries the persistence group has not moved past: not yet on disk."""
            return sum(
                g.lag or 0 for k in streams for g in stream_groups(rclient, k) if g.name == "persistence"
            )

        wait_until(
            lambda: any(
                e.data["state"] == "degraded" and "can't write to" in e.data["message"]
                for e in events(rclient, keys)
            ),
            what="a degraded status",
        )
        assert waiting() == 50  # held, not lost
        time.sleep(1.0)
        assert waiting() == 50 and svc.proc.poll() is None
    finally:
        if how == "file_in_its_place":
            data.unlink()
            aside.rename(data)
        else:
            _chattr("-i", data)
    wait_until(lambda: drained(rclient, streams), what="the held ticks written")
    assert any(e.data["state"] == "recovered" for e in events(rclient, keys))
    assert svc.stop() == 0
    assert parsed(on_disk(data)) == expected(first + more)


def test_deleted_data_folder_is_made_again(
    service: Callable[..., Service], rclient: redis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    publish(rclient, keys, ticks_of("EURUSD_otc", 20))
    svc = service()
    streams = all_streams(keys, ())
    wait_until(lambda: drained(rclient, streams), what="first ticks written")
    shutil.rmtree(data)
    more = ticks_of("EURUSD_otc", 20, start=T0 + 100)
    publish(rclient, keys, more)
    wait_until(lambda: drained(rclient, streams), what="ticks after the folder was deleted")
    assert svc.stop() == 0
    assert parsed(on_disk(data)) == expected(more)
    contract_check(redis_url, prefix, data)


def test_collect_candles_only(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    minute = int(T0) // 60 * 60
    records = ticks_and_bars(20)
    publish(rclient, keys, records)
    publish(rclient, keys, bars_of("EURUSD_otc", 120, [minute]))  # 2m: no folder in the layout
    svc = service("--collect-stream", "candle")
    wait_until(lambda: drained(rclient, [keys.bars(60)]), what="bars written")
    assert svc.stop() == 0
    assert parsed(on_disk(data)) == {k: v for k, v in expected(records).items() if k[0] == "candles"}
    # No group on the tick streams (nor on 2m bars), so nothing there waits for this service.
    assert all(not rclient.xinfo_groups(k) for k in keys.all_ticks(4) if rclient.exists(k))
    assert not rclient.xinfo_groups(keys.bars(120))


def test_bad_setting_is_a_clear_error(service: Callable[..., Service]) -> None:
    svc = service(QF_PERSIST="sometimes")
    assert svc.proc.wait(timeout=30) == 2
    svc = service(QF_TICK_CHUNKS="5")
    assert svc.proc.wait(timeout=30) == 2


def test_entries_delivered_again_never_become_second_rows(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    records = ticks_and_bars(40)
    publish(rclient, keys, records)
    streams = all_streams(keys, (60,))
    svc = service()
    wait_until(lambda: drained(rclient, streams), what="first pass written")
    assert svc.stop() == 0
    # What a crash between writing and acknowledging looks like to the next start: Redis hands
    # out every entry again.
    for k in streams:
        rclient.xgroup_setid(k, "persistence", "0")
    more = ticks_of("EURUSD_otc", 10, start=T0 + 100)
    publish(rclient, keys, more)
    svc = service()
    wait_until(lambda: drained(rclient, streams), what="second pass")
    assert svc.stop() == 0
    assert parsed(on_disk(data)) == expected(records + more)


def test_redis_going_away_and_back(
    service: Callable[..., Service], private_redis: Any, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    client = redis.Redis.from_url(private_redis.url)
    first = ticks_of("EURUSD_otc", 30)
    publish(client, keys, first)
    streams = all_streams(keys, ())
    svc = service(QF_REDIS_URL=private_redis.url)
    wait_until(lambda: drained(client, streams), what="first ticks written")
    private_redis.stop()
    time.sleep(1.5)
    assert svc.proc.poll() is None  # it waits for Redis, it does not crash
    private_redis.start()
    more = ticks_of("EURUSD_otc", 30, start=T0 + 100)
    publish(client, keys, more)
    wait_until(lambda: drained(client, streams), what="ticks after Redis came back")
    assert svc.stop() == 0
    client.close()
    assert parsed(on_disk(data)) == expected(first + more)
    assert "Traceback" not in (tmp_path / "service.log").read_text()


def test_a_growing_backlog_is_reported(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    records = ticks_of("EURUSD_otc", 6000)
    publish(rclient, keys, records)
    svc = service(QF_PERSIST_BATCH="500", QF_LAG_WARNING="1000", QF_DISCOVER_INTERVAL="0.05")
    streams = all_streams(keys, ())
    wait_until(lambda: drained(rclient, streams), what="all written")
    wait_until(lambda: any(e.data["state"] == "recovered" for e in events(rclient, keys)), what="caught up")
    assert svc.stop() == 0
    said = [(e.data["state"], e.data["message"]) for e in events(rclient, keys)]
    behind = [m for s, m in said if s == "degraded"]
    assert behind and behind[0].startswith("falling behind: ")
    assert ("recovered", "caught up with the streams") in said
    assert parsed(on_disk(data)) == expected(records)


def test_the_group_lag_is_what_waits_to_be_written_even_after_a_stop_before_the_group_moved(
    service: Callable[..., Service], rclient: redis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    from quantumflux.persistence.config import PersistenceSettings
    from quantumflux.persistence.worker import Worker

    keys = Keys(prefix)
    data = tmp_path / "data"
    publish(rclient, keys, ticks_of("EURUSD_otc", 30))
    svc = service()
    stream = keys.stream_of_ticks("EURUSD_otc", 4)
    wait_until(lambda: drained(rclient, [stream]), what="first ticks written")
    assert svc.stop() == 0
    # A stop between the commit and moving the group leaves the group behind what is on disk.
    rclient.xgroup_setid(stream, "persistence", "0")
    publish(rclient, keys, ticks_of("EURUSD_otc", 20, start=T0 + 100))
    w = Worker(PersistenceSettings(redis_url=redis_url, prefix=prefix, data_dir=data))
    w.store.lock()
    try:
        assert w.open_store()
        w.discover(force=True)  # where reading starts: after what is on disk, and the group is moved there
    finally:
        w.store.unlock()
        w.client.close()
    [g] = [g for g in rclient.xinfo_groups(stream) if g["name"] == b"persistence"]
    if rclient.info("server")["redis_version"] >= "7":
        assert g["lag"] == 20  # Redis's own figure: the 20 ticks not yet written
    assert g["pending"] == 0
    assert w.positions[stream] == rclient.xrange(stream, count=30)[-1][0].decode()
