"""The audit files of orders: every state change of every order, as the trader published it.

The persistence service writes ``qf:orders`` to ``orders/orders_{session}_{chunk:04d}.csv``, one
row per change (an order that opens and closes gives three rows: requested, open, closed), so the
files tell what was asked, what the broker said and what came of it, even when Redis is gone::

    timestamp,request_id,asset,action,amount,expiry,mode,state,deal_id,open_price,close_price,profit,reason,signal

``timestamp`` is when the change was published (ISO UTC, to the millisecond); a value the order
does not have yet (no deal id before the broker answers, no profit before the close) is an empty
cell; ``signal`` is the id of the strategy's signal that placed the order (empty for an order
by hand; files written before it was kept have no such column and read as empty). Pure apart from :func:`iter_order_files` and :func:`read_orders`, which only list and read.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from quantumflux.bus.trading import Order
from quantumflux.files.layout import iso_utc

ORDER_FOLDER = "orders"
ORDER_HEADER = [
    "timestamp",
    "request_id",
    "asset",
    "action",
    "amount",
    "expiry",
    "mode",
    "state",
    "deal_id",
    "open_price",
    "close_price",
    "profit",
    "reason",
    "signal",
]
# Files written before the signal column was added.
_EARLIER_HEADER = ORDER_HEADER[:-1]
# The one series of orders: every order of an install goes to the same numbered files.
ORDER_SERIES: tuple[str, str, None] = ("orders", "orders", None)
_ORDER_NAME = re.compile(r"orders_(?P<session>\d{8}T\d{6}Z)_(?P<chunk>\d{4,})\.csv")
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def header_line() -> str:
    """The first line of every order file, with its newline."""
    return ",".join(ORDER_HEADER) + "\n"


def order_folder(data_dir: str | os.PathLike[str]) -> Path:
    """Folder of the order files."""
    return Path(data_dir) / ORDER_FOLDER


def order_file(data_dir: str | os.PathLike[str], session: str, chunk: int) -> Path:
    """Path of one chunk of the orders of one session."""
    return order_folder(data_dir) / f"orders_{session}_{chunk:04d}.csv"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    out = str(value)
    # A reason is the broker's or the trader's own words: it may hold commas or quotes.
    return '"' + out.replace('"', '""') + '"' if _NEEDS_QUOTES.search(out) else out


def order_row(order: Order) -> str:
    """The CSV line of one order change, with its newline."""
    values = (
        iso_utc(order.ts, millis=True),
        order.request_id,
        order.asset,
        order.action,
        float(order.amount),
        order.expiry,
        order.mode,
        order.state,
        order.deal_id,
        order.open_price,
        order.close_price,
        order.profit,
        order.reason,
        order.signal,
    )
    return ",".join(map(_cell, values)) + "\n"


@dataclass(frozen=True)
class OrderFile:
    """One order file, as read from its name (shaped like the layout's other files)."""

    session: str
    chunk: int
    path: Path
    kind: Literal["orders"] = "orders"
    stored_name: str = "orders"
    tf: None = None


def iter_order_files(data_dir: str | os.PathLike[str]) -> Iterator[OrderFile]:
    """Every order file under ``data_dir``, by session and chunk; links are never followed."""
    folder = order_folder(data_dir)
    if folder.is_symlink() or not folder.is_dir():
        return
    found = []
    with os.scandir(folder) as it:
        for entry in it:
            m = _ORDER_NAME.fullmatch(entry.name)
            if m and entry.is_file(follow_symlinks=False):
                found.append(OrderFile(m.group("session"), int(m.group("chunk")), Path(entry.path)))
    yield from sorted(found, key=lambda f: (f.session, f.chunk))


def read_orders(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """The rows of one order file as maps of the header's names to their cells (text)."""
    text = Path(path).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or rows[0] not in (ORDER_HEADER, _EARLIER_HEADER):
        raise ValueError(f"{path}: not an order file (the header must be {','.join(ORDER_HEADER)})")
    names = rows[0]
    return [{"signal": "", **dict(zip(names, row, strict=True))} for row in rows[1:] if row]
