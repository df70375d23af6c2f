"""A strategy trades for a few minutes through every real part: the simulated broker in a headless
Chromium, ingest, the candle service building 5-second candles, the signals service running the
strategy and trading it on paper, and the trader placing the same signals through the page.

The simulator ticks on a steady grid (one tick 0.1 s before every whole second), so an order
placed within 0.9 s of its candle's close opens at that close and settles at the close of its
expiry candle: the broker's deal and the paper contract then see the very same prices, and the
results must agree to the cent.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quantumflux.bus.records import unpack
from quantumflux.ingest.chrome import Chromium
from tests.candles.support import start_worker, stop_worker
from tests.ingest.stack import wait_until
from tests.signals import service as signals
from tests.trader.stack import TF, Market, open_market
from tests.trader.test_trading_e2e import assert_one_to_one, qf, settled

pytestmark = pytest.mark.browser

SESSION_SECONDS = 180
STRATEGY = "sma_cross(fast=1,slow=3)"
ASSET = "EURUSD_otc"
# The same limits for the trader and for paper trading: wide, so both take every signal.
LIMITS = {"DAILY_LOSS": "1000", "MAX_LOSSES": "100", "MAX_PER_HOUR": "500", "MIN_PAYOUT": "0.5"}


@pytest.fixture
def market(
    chromium: Chromium, test_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
) -> Iterator[Market]:
    yield from open_market(
        chromium.http_url, test_env, redis_url, prefix, tmp_path, "--steady", "--rate", "1"
    )


def paper_contracts(market: Market) -> dict[str, dict[str, dict[str, Any]]]:
    """Every paper contract by id, each with its events by kind (open, settle, void)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for _id, f in market.client.xrange(market.keys.paper()):
        rec = unpack(f[b"d"])
        out.setdefault(rec["id"], {})[rec["kind"]] = rec
    return out


def start_pipeline(market: Market) -> list[subprocess.Popen[bytes]]:
    """The candle service and the signals service, set as for trading on 5-second candles.

    Candles close 0.1 s after they end (capture vouches for each whole second within 0.05 s, so
    they close complete), and the strategy also runs on the incomplete candles built from the
    simulator's history: the catch-up a trader starting up sees, signals for old candles.
    """
    logs = market.workdir
    candles = start_worker(market.env, log=logs / "candles.log", QF_TIMEFRAMES="5s", QF_CLOSE_GRACE="0.1")
    paper = {f"paper_{k.lower()}": v for k, v in LIMITS.items()}
    strategy = signals.start(
        market.env,
        logs / "signals.log",
        signals=f"{STRATEGY}@{ASSET}:5s",
        include_incomplete="true",
        **paper,
    )
    return [candles, strategy]


def test_a_strategy_on_5_second_candles_trades_as_it_trades_on_paper(market: Market) -> None:
    trader = market.trader(**{f"QF_TRADE_{k}": v for k, v in LIMITS.items()})
    market.wait_trading(trader)
    pipeline = start_pipeline(market)
    try:
        # The signals service catches up on the simulator's history first: paper trading replays
        # it, the trader must place nothing for it.
        wait_until(lambda: market.status().get("stale_signals", 0) > 0, guard=60, what="the catch-up")
        started = time.time()
        while time.time() < started + SESSION_SECONDS:
            assert all(p.poll() is None for p in pipeline), (market.workdir / "signals.log").read_text()
            time.sleep(1)
        ended = time.time()
        assert qf(market.env, "trade", "stop").returncode == 0
        wait_until(lambda: settled(market), guard=60, what="every order to be settled")
        wait_until(
            lambda: all("settle" in c or "void" in c for c in paper_contracts(market).values()),
            guard=30,
            what="every paper contract to be settled",
        )
        orders = market.latest()
        assert len(orders) >= SESSION_SECONDS // TF // 6, trader.output()
        assert_one_to_one(market)
        assert_same_as_paper(market, started, ended)
        assert market.status()["stale_signals"] > 0
        assert trader.stop() == 0, trader.output()
    finally:
        codes = [stop_worker(p) for p in pipeline]
    assert codes == [0, 0]


def assert_same_as_paper(market: Market, started: float, ended: float) -> None:
    """Each order is the paper contract of its signal, at the same prices with the same profit, and
    every paper contract of a candle that closed while the trader traded has its order."""
    orders = market.latest()
    paper = paper_contracts(market)
    by_signal = {o.signal: o for o in orders.values()}
    assert len(by_signal) == len(orders) and None not in by_signal, "an order without its signal"
    live = {cid for cid, c in paper.items() if started + 1 <= c["open"]["entry_time"] + TF <= ended - 1}
    assert live <= set(by_signal), f"paper contracts with no order: {sorted(live - set(by_signal))}"
    # The history catch-up traded on paper, never for real.
    assert any(c["open"]["entry_time"] + TF < started - 60 for c in paper.values())
    opened_at = {str(d["request_id"]): float(d["open_ts"]) for d in market.deals()}
    late = set()
    for sid, order in by_signal.items():
        contract = paper[sid]
        opened, settled_ = contract["open"], contract["settle"]
        assert (order.asset, order.action) == (opened["asset"], "call" if opened["direction"] > 0 else "put")
        assert order.amount == opened["stake"]
        close = opened["entry_time"] + TF
        if opened_at[order.request_id] >= close + 0.9:
            # Sent after the next tick (the machine was slow): the broker's price moved on, as it
            # would for any trader; only such an order may differ from paper.
            late.add(sid)
            continue
        assert (order.open_price, order.close_price) == (opened["entry_price"], settled_["expiry_price"]), (
            order,
            contract,
        )
        assert order.profit == pytest.approx(settled_["pnl"], abs=1e-9), (order, settled_)
    assert len(late) <= len(by_signal) // 4, f"{len(late)} of {len(by_signal)} orders sent late"
    real = sum(o.profit or 0.0 for sid, o in by_signal.items() if sid not in late)
    on_paper = sum(paper[sid]["settle"]["pnl"] for sid in by_signal if sid not in late)
    assert real == pytest.approx(on_paper, abs=1e-6)
