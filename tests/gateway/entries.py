"""Entries of ``{prefix}:signals`` and ``{prefix}:paper`` shaped as the signals service writes them.

Shared by the gateway's and the web app's tests, so both publish the same shapes.
"""

from __future__ import annotations

import time
from typing import Any

ASSET = "EURUSD_otc"


def signal_map(asset: str, tf: int, t: int, direction: int, **extra: Any) -> dict[str, Any]:
    """A ``{prefix}:signals`` entry as the signals service writes it."""
    run = "rsi(period=14)"
    return {
        "v": 1,
        "id": f"{run}|{asset}|1m#{t}",
        "asset": asset,
        "timeframe": tf,
        "label": {60: "1m", 300: "5m"}[tf],
        "time": t,
        "direction": direction,
        "confidence": 0.75,
        "strategy": "rsi",
        "params": {"period": 14},
        "run": run,
        "price": 1.1 + t / 1e7,
        "contract": f"book#{t}",
        "ts": time.time(),
        **extra,
    }


def paper_map(kind: str, t: int, **extra: Any) -> dict[str, Any]:
    """A ``{prefix}:paper`` entry as the signals service writes it."""
    base = {
        "v": 1,
        "kind": kind,
        "id": f"book#{t}",
        "book": "rsi(period=14)|EURUSD_otc|1m",
        "run": "rsi(period=14)",
        "strategy": "rsi",
        "params": {"period": 14},
        "asset": ASSET,
        "timeframe": 60,
        "label": "1m",
        "direction": 1,
        "confidence": 0.75,
        "entry_time": t,
        "entry_price": 1.1,
        "expiry_time": t + 60,
        "stake": 10.0,
        "payout": 0.8,
        "balance": 1000.0,
        "trades": 0,
        "wins": 0,
        "losses": 0,
        "ties": 0,
        "voided": 0,
        "total_pnl": 0.0,
        "ts": time.time(),
    }
    return base | extra
