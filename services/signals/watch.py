"""``qf signals``: read ``{prefix}:signals`` and ``{prefix}:paper`` and show them, live, with rich."""

from __future__ import annotations

import signal
import time
from typing import Any

from rich.console import Console
from rich.live import Live

from services.bus.backoff import Backoff
from services.bus.config import BusSettings
from services.bus.connection import RETRIABLE, connect_sync
from services.bus.keys import Keys
from services.bus.records import RecordError, unpack
from services.signals.view import Board


def _maps(rows: Any) -> tuple[list[dict[str, Any]], str | None]:
    out: list[dict[str, Any]] = []
    last: str | None = None
    for eid, fields in rows or []:
        last = eid.decode() if isinstance(eid, bytes) else str(eid)
        raw = fields.get(b"d")
        if raw is None:
            continue
        try:
            out.append(unpack(raw))
        except RecordError:
            continue
    return out, last


def main(settings: BusSettings, once: bool = False, last: int = 15) -> int:
    """Show the board; with ``once`` print it one time and return."""
    keys = Keys(settings.prefix)
    client = connect_sync(settings)
    console = Console()
    board = Board(keep=last)
    try:
        sig_rows, sig_id = _maps(list(reversed(client.xrevrange(keys.signals(), count=last))))
        # Enough paper entries to know every account's latest numbers.
        pap_rows, pap_id = _maps(list(reversed(client.xrevrange(keys.paper(), count=max(last, 2000)))))
    except RETRIABLE as exc:
        console.print(
            f"Redis at {settings.redis_url} does not answer ({exc}). Is QuantumFlux running (qf up)?"
        )
        return 1
    board.feed(sig_rows, pap_rows)
    if once:
        console.print(board.render())
        if not sig_rows and not pap_rows:
            console.print("No signals yet: is the signals service running (qf signals-service, or qf up)?")
        return 0
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    positions = {keys.signals(): sig_id or "0-0", keys.paper(): pap_id or "0-0"}
    backoff = Backoff(initial=0.2, cap=5.0)
    try:
        with Live(board.render(), console=console, refresh_per_second=4, screen=False) as live:
            while not stop:
                try:
                    resp = client.xread(positions, count=500, block=1000)
                    backoff.reset()
                except RETRIABLE:
                    time.sleep(backoff.next_delay())
                    continue
                for stream, rows in resp or []:
                    name = stream.decode() if isinstance(stream, bytes) else str(stream)
                    maps, last_id = _maps(rows)
                    if last_id:
                        positions[name] = last_id
                    if name == keys.signals():
                        board.feed(maps, [])
                    else:
                        board.feed([], maps)
                live.update(board.render())
    except KeyboardInterrupt:
        pass
    return 0
