"""Latency of automated trading on the simulated broker: signal → order stored and frame sent →
deal confirmed, against the page's own button in the same run.

A headless Chromium shows the simulator's page; ingest captures it; the trader (QF_TRADE=demo)
places an order for each signal published on ``qf:signals``. The baseline is the page itself:
its Call button sends ``openOrder`` from the page's own code. Both end at the same point, the
moment the page received ``successopenOrder`` (the capture time of the ``deal`` event ingest
publishes), and both start on the same clock: the signal's publication, or the click.

Run: ``.venv/bin/python bench/trading.py [--rounds 20]`` (needs Redis at QF_TEST_REDIS_URL or
127.0.0.1:6379 and Chromium). Prints p50/p99 of each leg in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from quantumflux.bus.records import unpack  # noqa: E402
from quantumflux.ingest.chrome import Chromium  # noqa: E402
from tests.ingest.stack import wait_until  # noqa: E402
from tests.trader.stack import TF, Market, open_market  # noqa: E402

REDIS_URL = os.environ.get("QF_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLICK = "(() => { const t = Date.now(); document.getElementById('call').click(); return t; })()"


def opened_deals(market: Market) -> list[dict[str, Any]]:
    """The ``deal`` events of opened deals, with their capture time."""
    out = []
    for _id, f in market.client.xrange(market.keys.events()):
        obj = unpack(f[b"d"])
        if obj.get("type") == "deal" and obj.get("state") == "open":
            out.append(obj)
    return out


def confirmed(market: Market, request_id: str) -> float:
    """When the page received the broker's confirmation of this request (epoch s)."""
    deal = wait_until(
        lambda: next((d for d in opened_deals(market) if str(d.get("request_id")) == request_id), None),
        guard=20,
        what=f"the deal of {request_id}",
    )
    return float(deal["ts"])


def trader_round(market: Market) -> tuple[float, float]:
    """(signal → order stored and sent, signal → deal confirmed), in seconds."""
    close = (int(time.time()) // TF + 1) * TF
    time.sleep(max(0.0, close + 0.1 - time.time()))
    before = set(market.latest())
    t0 = time.time()
    market.signal(+1)
    order = wait_until(
        lambda: next((o for o in market.orders() if o.request_id not in before), None),
        guard=10,
        what="the order",
    )
    return order.ts - t0, confirmed(market, order.request_id) - t0


def button_round(market: Market) -> float:
    """Click → deal confirmed, in seconds: the page's own path."""
    seen = {str(d.get("request_id")) for d in opened_deals(market)}
    clicked = float(market.js(CLICK)) / 1000.0
    deal = wait_until(
        lambda: next((d for d in opened_deals(market) if str(d.get("request_id")) not in seen), None),
        guard=20,
        what="the page's own deal",
    )
    return float(deal["ts"]) - clicked


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="qf-bench-trading-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QF_")}
    env.update({"QF_REDIS_URL": REDIS_URL, "QF_PREFIX": prefix, "QF_DATA_DIR": str(work / "data")})
    browser = Chromium(user_data_dir=work / "profile").start()
    try:
        for market in open_market(browser.http_url, env, REDIS_URL, prefix, work):
            market.js(
                "document.getElementById('timeframe').value = '5'; document.getElementById('amount').value = '1'"
            )
            trader = market.trader()
            market.wait_trading(trader)
            sent, traded, clicked = [], [], []
            for _ in range(args.rounds):
                s, t = trader_round(market)
                sent.append(s)
                traded.append(t)
                clicked.append(button_round(market))
            print(f"rounds: {args.rounds} of each, on the simulated broker (local), headless Chromium")
            print(
                f"signal -> order requested (stored): p50 {pct(sent, 0.5):7.1f} ms  p99 {pct(sent, 0.99):7.1f} ms"
            )
            print(
                f"signal -> deal confirmed (trader)  : p50 {pct(traded, 0.5):7.1f} ms  p99 {pct(traded, 0.99):7.1f} ms"
            )
            print(
                f"click  -> deal confirmed (page)    : p50 {pct(clicked, 0.5):7.1f} ms  p99 {pct(clicked, 0.99):7.1f} ms"
            )
            print(
                f"trader's extra over the page's own : {1000 * (statistics.median(traded) - statistics.median(clicked)):.1f} ms (medians)"
            )
    finally:
        browser.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()
