"""The signals service as a real process on the real Redis: parity with `qf backtest`, crashes, reloads."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from quantumflux.backtest.engine import TRADE_COLUMNS
from quantumflux.backtest.strategies import get_strategy
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import pack, unpack
from quantumflux.bus.trading import Signal
from quantumflux.files import datasets
from quantumflux.files.layout import candle_file, iso_utc
from tests.signals import service
from tests.signals.candles import random_walk, real_candles

ROOT = Path(__file__).resolve().parents[2]
# Every trade column but the candle indices, which only mean something inside one backtest.
TRADE_KEYS = tuple(c for c in TRADE_COLUMNS if not c.endswith("_index"))
STRATEGIES = "sma_cross(fast=2,slow=4)@GBPUSD_otc:1m;quantum_flux(threshold=0.5)@EURUSD_otc:1m;sma_cross(fast=3,slow=8)@*:1m"
# (asset, strategy, params) → the backtest to compare with
RUNS = [
    ("GBPUSD_otc", "sma_cross", {"fast": 2, "slow": 4}),
    ("GBPUSD_otc", "sma_cross", {"fast": 3, "slow": 8}),
    ("EURUSD_otc", "quantum_flux", {"threshold": 0.5}),
    ("EURUSD_otc", "sma_cross", {"fast": 3, "slow": 8}),
]
PAYOUT = {"EURUSD_otc": 0.85, "GBPUSD_otc": 0.92}


def session_candles(po_data: Path) -> dict[str, list]:
    return {
        "GBPUSD_otc": real_candles(po_data),  # real ticks, minus the broker's +7200 s, as 1m candles
        "EURUSD_otc": random_walk(320, seed=5, start_time=real_candles(po_data)[0][0], gaps=(200,)),
    }


def session_on_disk(po_data: Path, data_dir: Path) -> dict[str, list]:
    """The session's candles, also written to ``data_dir`` as the backtest reads them."""
    candles = session_candles(po_data)
    for asset, rows in candles.items():
        write_csv(data_dir, asset, rows)
    return candles


def write_csv(data_dir: Path, asset: str, rows, chunk: int = 100) -> None:
    """The candles as the persistence service lays them out (DESIGN §4), prices written exactly."""
    for k in range(0, len(rows), chunk):
        path = candle_file(data_dir, asset, 60, "20260615T000000Z", k // chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,open,high,low,close,ticks"]
        lines += [
            f"{iso_utc(t, False)},{o!r},{h!r},{lo!r},{c!r},{n}" for t, o, h, lo, c, n in rows[k : k + chunk]
        ]
        path.write_text("\n".join(lines) + "\n")


def qf_backtest(data_dir: Path, asset: str, strategy: str, params: dict, expiry: int, payout: float) -> dict:
    """`qf backtest DATASET --json` on the stored files: the trades a user would get."""
    args = [
        sys.executable,
        "-m",
        "quantumflux.qf",
        "backtest",
        f"{asset}-1m",
        "--strategy",
        strategy,
        "--expiry",
        str(expiry),
        "--payout",
        repr(payout),
        "--json",
        "--data-dir",
        str(data_dir),
    ]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["results"][0]


def expected_signals(data_dir: Path, asset: str, strategy: str, params: dict) -> list[tuple]:
    """The backtest's signals function on the stored dataset: (time, direction, confidence) where it trades."""
    candles, _ = datasets.load(datasets.discover(data_dir)[f"{asset}-1m"])
    s = get_strategy(strategy)
    sig = s.signals(candles, **s.resolve(params))
    times = candles["time"].to_numpy()
    return [(int(times[i]), int(d), float(sig.confidence[i])) for i, d in enumerate(sig.direction) if d]


def run_key(strategy: str, params: dict) -> str:
    return f"{strategy}({','.join(f'{k}={v}' for k, v in params.items())})"


def check_parity(client: redis.Redis, prefix: str, data_dir: Path, expiry: int) -> None:
    keys = Keys(prefix)
    signals = service.read_stream(client, keys.signals())
    paper = service.read_stream(client, keys.paper())
    assert len({s["id"] for s in signals}) == len(signals), "a signal was published twice"
    opened = [p["id"] for p in paper if p["kind"] == "open"]
    finished = [p["id"] for p in paper if p["kind"] in ("settle", "void")]
    assert len(set(opened)) == len(opened), "a contract was opened twice"
    assert len(set(finished)) == len(finished), "a contract was settled twice"
    assert set(finished) <= set(opened)
    total = 0
    for asset, strategy, params in RUNS:
        key = run_key(strategy, params)
        got = [
            (s["time"], s["direction"], s["confidence"])
            for s in signals
            if s["asset"] == asset and s["run"] == key
        ]
        want = expected_signals(data_dir, asset, strategy, params)
        assert got == want, f"signals of {key} on {asset} differ from the backtest"
        result = qf_backtest(data_dir, asset, strategy, params, expiry, PAYOUT[asset])
        settled = [p for p in paper if p["kind"] == "settle" and p["asset"] == asset and p["run"] == key]
        assert [{k: p[k] for k in TRADE_KEYS} for p in settled] == [
            {k: t[k] for k in TRADE_KEYS} for t in result["trades"]
        ], f"paper contracts of {key} on {asset} differ from qf backtest"
        assert all(p["payout"] == PAYOUT[asset] for p in settled)
        total += len(settled)
    assert total >= 10


def test_live_signals_and_paper_trades_equal_qf_backtest(po_data, test_env, rclient, prefix, tmp_path):
    data_dir = tmp_path / "csv"
    candles = session_on_disk(po_data, data_dir)
    log = tmp_path / "signals.log"
    proc = service.start(test_env, log, signals=STRATEGIES, paper_expiry="2")
    try:
        eid = service.publish_payouts(rclient, prefix, {"EURUSD_otc": 85})
        service.wait_applied(rclient, prefix, Keys(prefix).events(), eid, proc)
        last = ""
        for asset, rows in candles.items():
            last = service.publish_bars(rclient, prefix, asset, rows)
        service.wait_applied(rclient, prefix, Keys(prefix).bars(60), last, proc)
        check_parity(rclient, prefix, data_dir, expiry=2)
        # The terminal view shows what was published.
        view = subprocess.run(
            [sys.executable, "-m", "quantumflux.qf", "signals", "--once"],
            cwd=ROOT,
            env={**test_env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert view.returncode == 0, view.stderr
        assert "EURUSD_otc" in view.stdout and "Paper accounts" in view.stdout
    finally:
        assert service.stop(proc) == 0, log.read_text()
    events = [unpack(f[b"d"]) for _, f in rclient.xrange(Keys(prefix).events())]
    states = [
        e["state"] for e in events if e.get("type") == "service_status" and e.get("service") == "signals"
    ]
    assert states[0] == "starting" and "running" in states and states[-1] == "stopped"


def test_sigkill_mid_session_loses_and_repeats_nothing(po_data, test_env, rclient, prefix, tmp_path):
    data_dir = tmp_path / "csv"
    candles = session_on_disk(po_data, data_dir)
    log = tmp_path / "signals.log"
    rng = random.Random(2026)
    bars = Keys(prefix).bars(60)
    # Small batches: many checkpoints, so the kills land between and inside them.
    settings = {"signals": STRATEGIES, "paper_expiry": "2", "signals_batch": "3"}
    proc = service.start(test_env, log, **settings)
    eid = service.publish_payouts(rclient, prefix, {"EURUSD_otc": 85})
    service.wait_applied(rclient, prefix, Keys(prefix).events(), eid, proc)
    gbp, eur = candles["GBPUSD_otc"], candles["EURUSD_otc"]
    last = service.publish_bars(rclient, prefix, "GBPUSD_otc", gbp)
    kills_mid_work = 0
    chunks = [eur[k : k + 60] for k in range(0, len(eur), 60)]
    for chunk in chunks:
        last = service.publish_bars(rclient, prefix, "EURUSD_otc", chunk)
        # Kill once the service is seen working on the new bars, a random moment later.
        before = service.applied(rclient, prefix).get(bars, "0-0")
        deadline = time.monotonic() + 30
        while service.applied(rclient, prefix).get(bars, "0-0") == before and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        service.kill(proc)
        done = service.applied(rclient, prefix).get(bars, "0-0")
        kills_mid_work += service.id_of(done) < service.id_of(last)
        proc = service.start(test_env, log, **settings)
    try:
        service.wait_applied(rclient, prefix, bars, last, proc)
        check_parity(rclient, prefix, data_dir, expiry=2)
    finally:
        assert service.stop(proc) == 0, log.read_text()
    assert kills_mid_work >= 2  # most kills land with bars still to do
    group = {g["name"]: g for g in rclient.xinfo_groups(bars)}[b"signals"]
    assert group["pending"] == 0


SMA_ON_EURUSD = {
    "strategy": "sma_cross",
    "params": {"fast": 3, "slow": 8},
    "assets": ["EURUSD_otc"],
    "timeframes": ["1m"],
}


def write_config(path: Path, items: list[dict]) -> None:
    path.write_text(json.dumps({"strategies": items}))


def test_strategies_file_is_reloaded_without_a_restart(test_env, rclient, prefix, tmp_path):
    from quantumflux.backtest.engine import EngineConfig, run
    from quantumflux.signals.runner import frame_of

    rows = random_walk(300, seed=9)
    conf = tmp_path / "strategies.json"
    write_config(conf, [SMA_ON_EURUSD])
    log = tmp_path / "signals.log"
    proc = service.start(test_env, log, signals_file=str(conf), signals_reload="0.2")
    keys = Keys(prefix)
    try:
        last = service.publish_bars(rclient, prefix, "EURUSD_otc", rows[:150])
        service.wait_applied(rclient, prefix, keys.bars(60), last, proc)
        # A broken file is reported and changes nothing.
        conf.write_text('{"strategies": [{"strategy": "nosuch", "timeframes": ["1m"]}]}')
        wait_status(rclient, prefix, "degraded", "nosuch", proc)
        # A good one is taken as it is saved (and SIGHUP asks for it at once).
        write_config(
            conf,
            [
                SMA_ON_EURUSD,
                {
                    "strategy": "quantum_flux",
                    "params": {"threshold": 0.5},
                    "assets": "*",
                    "timeframes": ["1m"],
                },
            ],
        )
        proc.send_signal(signal.SIGHUP)
        wait_status(rclient, prefix, "running", "reloaded", proc)
        last = service.publish_bars(rclient, prefix, "EURUSD_otc", rows[150:])
        service.wait_applied(rclient, prefix, keys.bars(60), last, proc)
        # Moving to another timeframe: the 1m bars are left (their group too, so they can be trimmed).
        write_config(conf, [{"strategy": "rsi_reversal", "assets": "*", "timeframes": ["5m"]}])
        wait_status(rclient, prefix, "running", "rsi_reversal", proc)
        assert b"signals" not in {g["name"] for g in rclient.xinfo_groups(keys.bars(60))}
        assert b"signals" in {g["name"] for g in rclient.xinfo_groups(keys.bars(300))}
    finally:
        assert service.stop(proc) == 0, log.read_text()
    frame = frame_of(rows)
    signals = service.read_stream(rclient, keys.signals())
    paper = service.read_stream(rclient, keys.paper())
    for name, params, since in (
        ("sma_cross", {"fast": 3, "slow": 8}, 0),
        ("quantum_flux", {"threshold": 0.5}, 150),
    ):
        s = get_strategy(name)
        sig = s.signals(frame, **s.resolve(params))
        direction = sig.direction.copy()
        direction[:since] = 0  # a strategy added by a reload trades from then on
        want = [(int(frame["time"][i]), int(direction[i])) for i in range(len(frame)) if direction[i]]
        key = run_key(name, params)
        assert [(x["time"], x["direction"]) for x in signals if x["run"] == key] == want
        trades = run(
            frame["time"].to_numpy(), frame["close"].to_numpy(), direction, sig.confidence, EngineConfig(), 60
        )
        got = [{k: p[k] for k in TRADE_KEYS} for p in paper if p["kind"] == "settle" and p["run"] == key]
        assert got == [{k: t[k] for k in TRADE_KEYS} for t in trades.rows()]
        assert since == 0 or want


def wait_status(client: redis.Redis, prefix: str, state: str, words: str, proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, f in client.xrange(Keys(prefix).events()):
            e = unpack(f[b"d"])
            if e.get("service") == "signals" and e.get("state") == state and words in str(e.get("message")):
                return
        assert proc.poll() is None, "the signals service stopped"
        time.sleep(0.1)
    raise AssertionError(f"no {state} status saying {words!r}")


def test_redis_going_away_is_waited_out(po_data, test_env, prefix, private_redis, tmp_path):
    data_dir = tmp_path / "csv"
    candles = session_on_disk(po_data, data_dir)
    client = redis.Redis.from_url(private_redis.url)
    env = {**test_env, "QF_REDIS_URL": private_redis.url, "QF_REDIS_RETRY_MAX": "0.5"}
    log = tmp_path / "signals.log"
    proc = service.start(env, log, signals=STRATEGIES, paper_expiry="2")
    try:
        eid = service.publish_payouts(client, prefix, {"EURUSD_otc": 85})
        service.wait_applied(client, prefix, Keys(prefix).events(), eid, proc)
        service.publish_bars(client, prefix, "GBPUSD_otc", candles["GBPUSD_otc"])
        last = service.publish_bars(client, prefix, "EURUSD_otc", candles["EURUSD_otc"][:100])
        service.wait_applied(client, prefix, Keys(prefix).bars(60), last, proc)
        private_redis.stop()
        deadline = time.monotonic() + 20
        while "Redis is not reachable" not in log.read_text():
            assert proc.poll() is None, "the service must wait for Redis, not exit"
            assert time.monotonic() < deadline, "the service never noticed Redis was gone"
            time.sleep(0.1)
        assert proc.poll() is None, "the service must wait for Redis, not exit"
        private_redis.start()
        client = redis.Redis.from_url(private_redis.url)
        last = service.publish_bars(client, prefix, "EURUSD_otc", candles["EURUSD_otc"][100:])
        service.wait_applied(client, prefix, Keys(prefix).bars(60), last, proc)
        check_parity(client, prefix, data_dir, expiry=2)
        wait_status(client, prefix, "recovered", "Redis answers again", proc)
    finally:
        assert service.stop(proc) == 0, log.read_text()
    assert "Traceback" not in log.read_text()


def _read_into(pipe, chunks: list[bytes]) -> threading.Thread:
    """Collect everything a process writes to ``pipe`` (a thread: a pipe read blocks)."""

    def read() -> None:
        while chunk := os.read(pipe.fileno(), 65536):
            chunks.append(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def _wait_for_output(chunks: list[bytes], words: str, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while words.encode() not in b"".join(chunks):
        assert proc.poll() is None, "the view stopped"
        assert time.monotonic() < deadline, f"the view never showed {words!r}"
        time.sleep(0.05)


def test_terminal_view_follows_new_signals(test_env, rclient, prefix, tmp_path):
    # A terminal view redraws as it goes, so what it shows can be waited for while it runs.
    terminal = {"COLUMNS": "200", "TTY_COMPATIBLE": "1", "TERM": "xterm"}
    errors = tmp_path / "view.err"
    view = subprocess.Popen(
        [sys.executable, "-m", "quantumflux.qf", "signals"],
        cwd=ROOT,
        env={**test_env, **terminal},
        stdout=subprocess.PIPE,
        stderr=errors.open("wb"),
    )
    chunks: list[bytes] = []
    reader = _read_into(view.stdout, chunks)
    try:
        # The board is drawn once the streams were read: from then on it follows them.
        _wait_for_output(chunks, "Live signals", view)
        assert b"AUDCAD_otc" not in b"".join(chunks)
        signal_record = Signal(
            id="sma_cross@AUDCAD_otc:1m#1781430720",
            asset="AUDCAD_otc",
            timeframe=60,
            time=1781430720,
            direction=-1,
            confidence=0.75,
            strategy="sma_cross",
            params={"fast": 5, "slow": 20},
            run="sma_cross",
            price=0.91234,
            ts=1781430781.0,
        )
        rclient.xadd(Keys(prefix).signals(), {"d": pack(signal_record)})
        _wait_for_output(chunks, "AUDCAD_otc", view)
    finally:
        view.send_signal(signal.SIGTERM)
        view.wait(timeout=20)
        reader.join(timeout=10)
    out = b"".join(chunks).decode()
    assert view.returncode == 0, errors.read_text()
    assert "AUDCAD_otc" in out and "PUT" in out and "0.75" in out
