"""``qf trade status`` as tables: the mode and state, each limit and how much of it is used,
the open and unknown orders, the results and the refusals."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

LIMIT_NAMES = {
    "max_open": "orders open at once",
    "daily_loss": "loss today (UTC)",
    "max_per_hour": "orders in the last hour",
    "max_losses": "losses in a row",
}


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "–" if value is None else str(value)


def head_table(status: dict[str, Any]) -> Table:
    """Mode, state (with why), the account, the results."""
    table = Table(title="Trading", show_header=False)
    account = status.get("account") or {}
    results = status.get("results") or {}
    demo = account.get("is_demo")
    rows = [
        ("mode", f"{status.get('mode')}" + (" (real money confirmed)" if status.get("real_money") else "")),
        ("state", f"{status.get('state')}" + (f": {status['reason']}" if status.get("reason") else "")),
        ("account", "unknown" if demo is None else "demo" if demo else "REAL"),
        ("balance", _num(account.get("balance"))),
        (
            "wins / losses / refunds",
            f"{results.get('wins', 0)} / {results.get('losses', 0)} / {results.get('ties', 0)}",
        ),
        ("profit today / total", f"{_num(results.get('today_pnl'))} / {_num(results.get('total_pnl'))}"),
        ("stale signals", _num(status.get("stale_signals"))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def limits_table(status: dict[str, Any]) -> Table:
    table = Table(title="Limits")
    for col in ("limit", "used", "of"):
        table.add_column(col)
    for key, row in (status.get("limits") or {}).items():
        table.add_row(LIMIT_NAMES.get(key, key), _num(row.get("used")), _num(row.get("limit")))
    return table


def orders_table(title: str, orders: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for col in ("request", "asset", "action", "amount", "expiry s", "state", "since", "note"):
        table.add_column(col)
    now = time.time()
    for o in orders:
        since = f"{max(0.0, now - float(o.get('ts') or now)):.0f} s"
        table.add_row(
            str(o.get("request_id")),
            str(o.get("asset")),
            str(o.get("action")),
            _num(o.get("amount")),
            _num(o.get("expiry")),
            str(o.get("state")),
            since,
            str(o.get("reason") or ""),
        )
    return table


def show(status: dict[str, Any], console: Console | None = None) -> None:
    """Print the status as tables."""
    out = console or Console()
    out.print(head_table(status))
    out.print(limits_table(status))
    out.print(orders_table("Open orders", list(status.get("open_orders") or [])))
    unknown = list(status.get("unknown_orders") or [])
    if unknown:
        out.print(orders_table("Orders of unknown fate (never sent again)", unknown))
    refused = status.get("refused") or {}
    if refused:
        out.print("Refused: " + ", ".join(f"{k} {v}" for k, v in sorted(refused.items())))
