"""Parity over the whole path: a recorded session replayed through ingest, candles and persistence
gives, in the signals service, exactly the signals and paper trades that ``qf backtest --json``
gives on the CSV files persistence wrote for the same session.

Real processes on the real Redis: ``qf candles --replay``, ``qf persistence --collect-stream
candle`` and ``qf signals-service`` run while ``qf replay`` pushes a recording (in the ``qf record``
format) through the decoder; then ``qf backtest`` reads the stored files. Two sessions: the real
GBPUSD_otc ticks, and a longer seeded random walk of two assets (with the broker's payouts and a
gap in the data) from the simulated broker's market.
"""

from __future__ import annotations

import base64
import csv
import itertools
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import redis

from quantumflux.backtest.engine import TRADE_COLUMNS
from quantumflux.backtest.strategies import get_strategy
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import unpack
from quantumflux.files import datasets
from quantumflux.sim.feed import SimFeed, encode_event
from tests.signals.candles import BROKER_OFFSET
from tests.system.harness import Proc, caught_up, python_service, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TICK_FILES = ("po-gbpusd-otc-ticks-2026-06-a.json", "po-gbpusd-otc-ticks-2026-06-b.json")
URL = "wss://api-eu.po.market/socket.io/?EIO=4&transport=websocket"
# Short periods, so ~20 one-minute candles give a handful of trades.
STRATEGY, PARAMS = "sma_cross", {"fast": 2, "slow": 3}
RUN = "sma_cross(fast=2,slow=3)"
EXPIRY, PAYOUT = 2, 0.85  # PAYOUT: the setting, used while the broker has said nothing
# Every trade column but the candle indices, which only mean something inside one backtest.
TRADE_KEYS = tuple(c for c in TRADE_COLUMNS if not c.endswith("_index"))

Row = tuple[int, float, float, float, float, int]
BrokerTick = tuple[str, float, float]  # asset, broker time, price


# -- recordings ------------------------------------------------------------------------------


def frame(ts: float, direction: str, payload: str, opcode: int = 1) -> str:
    return json.dumps(
        {"ts": ts, "dir": direction, "socket": "R1", "url": URL, "opcode": opcode, "payload": payload}
    )


def binary_event(ts: float, name: str, body: object) -> list[str]:
    """The two frames of a binary Socket.IO event: the ``451-`` header and the base64 body."""
    header, raw = encode_event(name, body)
    return [frame(ts, "recv", header), frame(ts + 0.0002, "recv", base64.b64encode(raw).decode(), opcode=2)]


def write_recording(path: Path, ticks: list[BrokerTick], assets_body: list | None = None) -> None:
    """A ``qf record`` file: handshake, changeSymbol, maybe ``updateAssets``, one ``updateStream`` per tick.

    The capture time is UTC (broker time − 2 h, plus a little network delay), as in a real recording.
    One more tick per asset, in the minute after the last tick, closes every last candle (with
    ``--replay`` only ticks close candles).
    """
    t0 = ticks[0][1] - BROKER_OFFSET
    lines = [
        frame(t0 - 3.0, "recv", '0{"sid":"r","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'),
        frame(t0 - 2.99, "sent", "40"),
        frame(t0 - 2.98, "recv", '40{"sid":"r2"}'),
        frame(t0 - 2.5, "sent", "42" + json.dumps(["changeSymbol", {"asset": ticks[0][0], "period": 60}])),
    ]
    if assets_body is not None:
        lines += binary_event(t0 - 2.4, "updateAssets", assets_body)
    after = math.floor(max(t for _, t, _ in ticks) / 60) * 60 + 61.0
    last_price = {asset: price for asset, _, price in ticks}
    closing = [(asset, after, price) for asset, price in last_price.items()]
    for asset, t, price in [*ticks, *closing]:
        # json.dumps writes the floats as the broker's JSON does: shortest exact form.
        lines += binary_event(t - BROKER_OFFSET + 0.04, "updateStream", [[asset, t, price]])
    path.write_text("\n".join(lines) + "\n")


def candles_of(ticks: list[BrokerTick], asset: str, tf: int = 60) -> list[Row]:
    """The closed candles of an asset's ticks (UTC, first tick opens), bucketed here independently."""
    buckets: dict[int, list[float]] = {}
    for _, t, price in sorted((x for x in ticks if x[0] == asset), key=lambda x: x[1]):
        buckets.setdefault(math.floor((t - BROKER_OFFSET) / tf) * tf, []).append(price)
    return [(t, ps[0], max(ps), min(ps), ps[-1], len(ps)) for t, ps in sorted(buckets.items())]


# -- the stack -------------------------------------------------------------------------------


def stack(test_env: dict[str, str], logdir: Path, strategies: str) -> list[Proc]:
    """Candles (closing on tick times), persistence (candles only) and signals, not yet started.

    Each gets only its own QF_ settings: an unknown one is an error by design.
    """
    base = {**test_env, "QF_HEARTBEAT_INTERVAL": "0.5"}
    candles = {**base, "QF_CANDLES_REPLAY": "1", "QF_TIMEFRAMES": "1m"}
    signals = {
        **base,
        "QF_SIGNALS": strategies,
        "QF_PAPER_EXPIRY": str(EXPIRY),
        "QF_PAPER_PAYOUT": repr(PAYOUT),
    }
    return [
        python_service("candles", "quantumflux.candles", candles, logdir),
        python_service("persistence", "quantumflux.persistence", base, logdir, "--collect-stream", "candle"),
        python_service("signals", "quantumflux.signals", signals, logdir),
    ]


def read_stream(client: redis.Redis, key: str) -> list[dict]:
    return [unpack(f[b"d"]) for _, f in client.xrange(key)]


def csv_rows(data_dir: Path, asset: str) -> list[Row]:
    """The 1m candle rows persistence wrote for an asset, in file order."""
    out = []
    for path in sorted((data_dir / "realtime_stream" / "1M_candle_data").glob(f"{asset}_1M_*.csv")):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                t = int(pd.Timestamp(r["timestamp"]).timestamp())
                out.append(
                    (
                        t,
                        float(r["open"]),
                        float(r["high"]),
                        float(r["low"]),
                        float(r["close"]),
                        int(r["ticks"]),
                    )
                )
    return out


@dataclass
class Session:
    """What the whole path left behind: the stored files and the signals service's streams."""

    data_dir: Path
    signals: list[dict]
    paper: list[dict]


def replay_session(
    test_env: dict[str, str],
    client: redis.Redis,
    prefix: str,
    tmp_path: Path,
    recording: Path,
    expected: dict[str, list[Row]],
) -> Session:
    """Start the stack, replay the recording at full speed, wait until every reader is done, stop."""
    data_dir = Path(test_env["QF_DATA_DIR"])
    keys = Keys(prefix)
    logdir = tmp_path / "logs"
    logdir.mkdir()
    procs = stack(test_env, logdir, f"{RUN}@*:1m")
    n_closed = sum(len(rows) for rows in expected.values())
    try:
        for p in procs:
            p.start()
        replay = subprocess.run(
            [sys.executable, "-m", "quantumflux.qf", "replay", str(recording), "--speed", "max"],
            cwd=ROOT,
            env=test_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert replay.returncode == 0, replay.stdout + replay.stderr

        def all_closed() -> bool:
            for p in procs:
                assert p.alive(), f"{p.name} stopped:\n{p.output()}"
            return client.xlen(keys.bars(60)) >= n_closed

        wait_until(all_closed, 60, "every closed 1m candle on the bar stream")
        wait_until(lambda: caught_up(client, keys.bars(60), "persistence"), 60, "persistence")
        wait_until(lambda: caught_up(client, keys.bars(60), "signals"), 60, "the signals service")
        lengths: list[tuple[int, int]] = []

        def stable() -> bool:
            lengths.append((client.xlen(keys.signals()), client.xlen(keys.paper())))
            return len(lengths) >= 3 and len(set(lengths[-3:])) == 1

        wait_until(stable, 30, "the signals and paper streams to stop growing")
        wait_until(
            lambda: all(len(csv_rows(data_dir, a)) >= len(rows) for a, rows in expected.items()),
            30,
            "the 1m CSV files",
        )
    finally:
        codes = {p.name: p.stop() for p in procs}
    assert codes == {"candles": 0, "persistence": 0, "signals": 0}, {p.name: p.output() for p in procs}
    assert client.xlen(keys.bars(60)) == n_closed, "a candle was published twice"
    return Session(data_dir, read_stream(client, keys.signals()), read_stream(client, keys.paper()))


# -- the checks ------------------------------------------------------------------------------


def qf_backtest(data_dir: Path, dataset: str, payout: float) -> dict:
    """`qf backtest DATASET --json` on the stored files, as a user runs it."""
    args = [sys.executable, "-m", "quantumflux.qf", "backtest", dataset, "--strategy", STRATEGY]
    for k, v in PARAMS.items():
        args += ["-p", f"{k}={v}"]
    args += ["--expiry", str(EXPIRY), "--payout", repr(payout), "--json", "--data-dir", str(data_dir)]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def sma_crossings(closes: list[float], fast: int, slow: int) -> list[tuple[int, int]]:
    """(index, ±1) where the fast SMA crosses the slow one, computed here with plain pandas."""
    s = pd.Series(closes)
    f = s.rolling(fast, min_periods=fast).mean()
    w = s.rolling(slow, min_periods=slow).mean()
    out = []
    for i in range(1, len(s)):
        if any(math.isnan(x) for x in (f[i], w[i], f[i - 1], w[i - 1])):
            continue
        if f[i] > w[i] and f[i - 1] <= w[i - 1]:
            out.append((i, 1))
        elif f[i] < w[i] and f[i - 1] >= w[i - 1]:
            out.append((i, -1))
    return out


def check_asset(session: Session, asset: str, expected: list[Row], payout: float) -> int:
    """One asset's signals and settled paper contracts equal ``qf backtest`` on its files; trades compared."""
    # The files hold exactly the closed candles of the ticks.
    assert csv_rows(session.data_dir, asset) == expected, f"the stored {asset} candles"
    found = [
        d for d in datasets.discover(session.data_dir).values() if d.asset == asset and d.timeframe == 60
    ]
    assert len(found) == 1, sorted(datasets.discover(session.data_dir))
    result = qf_backtest(session.data_dir, found[0].id, payout)["results"][0]
    trades = result["trades"]

    # Signals: the service's equal the backtest's strategy on the stored candles, candle by candle …
    signals = [s for s in session.signals if s["asset"] == asset]
    assert all(s["run"] == RUN and s["timeframe"] == 60 for s in signals)
    assert len({s["id"] for s in signals}) == len(signals), "a signal was published twice"
    candles, _ = datasets.load(found[0])
    strategy = get_strategy(STRATEGY)
    sig = strategy.signals(candles, **strategy.resolve(PARAMS))
    times = candles["time"].to_numpy()
    want = [(int(times[i]), int(d), float(sig.confidence[i])) for i, d in enumerate(sig.direction) if d]
    got = [(s["time"], s["direction"], s["confidence"]) for s in signals]
    assert got == want, f"{asset}: live signals differ from the backtest's"
    # … and both are the crossings computed here, at the candles' closes.
    crossings = [(expected[i][0], d) for i, d in sma_crossings([r[4] for r in expected], **PARAMS)]
    assert [(t, d) for t, d, _ in got] == crossings
    close_at = {r[0]: r[4] for r in expected}
    assert all(s["price"] == close_at[s["time"]] for s in signals)

    # Paper trades: the settled contracts are the backtest's trades, field by field, in order.
    paper = [p for p in session.paper if p["asset"] == asset]
    opened = [p for p in paper if p["kind"] == "open"]
    ended = [p for p in paper if p["kind"] in ("settle", "void")]
    settled = [p for p in ended if p["kind"] == "settle"]
    assert len({p["id"] for p in opened}) == len(opened), "a contract was opened twice"
    assert len({p["id"] for p in ended}) == len(ended), "a contract was settled twice"
    assert {p["id"] for p in ended} <= {p["id"] for p in opened}
    assert len({p["book"] for p in paper}) <= 1
    assert [{k: p[k] for k in TRADE_KEYS} for p in settled] == [
        {k: t[k] for k in TRADE_KEYS} for t in trades
    ], f"{asset}: paper contracts differ from qf backtest"
    assert all(p["payout"] == payout for p in settled)
    # A contract never ended expires after the last stored candle, where the backtest has no trade.
    ended_ids = {p["id"] for p in ended}
    assert all(p["expiry_time"] > expected[-1][0] for p in opened if p["id"] not in ended_ids)
    if settled:
        assert settled[-1]["balance"] == pytest.approx(result["equity"][-1][1], abs=1e-9)
    return len(trades)


# -- the sessions ----------------------------------------------------------------------------


def real_ticks(po_data: Path) -> list[BrokerTick]:
    """The real GBPUSD_otc ticks of both files, in broker time, oldest first."""
    rows: list[tuple[float, float]] = []
    for name in TICK_FILES:
        rows += [(float(t), float(p)) for t, p in json.loads((po_data / name).read_text())]
    return [("GBPUSD_otc", t, p) for t, p in sorted(rows)]


def test_real_ticks_replayed_give_the_backtests_signals_and_trades(
    po_data, test_env, rclient, prefix, tmp_path
):
    ticks = real_ticks(po_data)
    recording = tmp_path / "real.jsonl"
    write_recording(recording, ticks)
    expected = {"GBPUSD_otc": candles_of(ticks, "GBPUSD_otc")}
    assert len(expected["GBPUSD_otc"]) >= 20
    session = replay_session(test_env, rclient, prefix, tmp_path, recording, expected)
    assert {s["asset"] for s in session.signals} == {"GBPUSD_otc"}
    trades = check_asset(session, "GBPUSD_otc", expected["GBPUSD_otc"], PAYOUT)
    assert trades > 0, "no trades: the comparison would prove nothing"
    print(f"real ticks: {len(expected['GBPUSD_otc'])} candles, {trades} trades compared")


SIM_ASSETS = ("EURUSD_otc", "GBPUSD_otc")
SIM_START = 1_781_400_000.0  # UTC, on a minute boundary
SIM_MINUTES = 150
# Minutes of EURUSD_otc with no tick at all: a gap in its candles, right after a signal (at
# minute 65 with this seed), so a paper contract is voided and the backtest skips that trade.
GAP_MINUTES = (66, 70)


def sim_ticks(feed: SimFeed) -> list[BrokerTick]:
    """The feed's ticks of the session, as the broker stamps them, minus EURUSD_otc's gap."""
    lo, hi = (SIM_START + 60 * m for m in GAP_MINUTES)
    out = []
    for t in feed.step(SIM_START + 60 * SIM_MINUTES - 1):
        if t.asset == "EURUSD_otc" and lo <= t.ts < hi:
            continue
        out.append((t.asset, t.broker_ts(), t.price))
    return out


def test_simulated_session_with_payouts_and_a_gap_gives_the_backtests_trades(
    test_env, rclient, prefix, tmp_path
):
    feed = SimFeed(seed=11, assets=list(SIM_ASSETS), rate=1.0, start=SIM_START)
    ticks = sim_ticks(feed)
    recording = tmp_path / "sim.jsonl"
    write_recording(recording, ticks, assets_body=feed.assets_body())
    expected = {a: candles_of(ticks, a) for a in SIM_ASSETS}
    times = [r[0] for r in expected["EURUSD_otc"]]
    assert any(b - a > 60 for a, b in itertools.pairwise(times)), "the session must have a gap"
    session = replay_session(test_env, rclient, prefix, tmp_path, recording, expected)
    total = 0
    for asset in SIM_ASSETS:
        payout = feed.payout_of(asset)
        assert payout is not None
        total += check_asset(session, asset, expected[asset], payout / 100)
    assert total >= 20
    voided = [p for p in session.paper if p["kind"] == "void"]
    assert [(p["asset"], p["reason"]) for p in voided] == [("EURUSD_otc", "gap")]
    print(
        f"simulated: {sum(map(len, expected.values()))} candles, {total} trades compared, "
        f"{len(voided)} contracts voided by the gap"
    )
