"""``qf signals``: read ``{prefix}:signals`` and ``{prefix}:paper`` and show them, live, with rich."""

from __future__ import annotations

import signal
import threading
from typing import Any

import redis
from rich.console import Console
from rich.live import Live

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.config import BusSettings
from quantumflux.bus.connection import RETRIABLE, connect_sync
from quantumflux.bus.ids import text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import FIELD, RecordError, decode
from quantumflux.bus.trading import PaperContract, Signal
from quantumflux.signals.view import Board


def _records(rows: Any) -> tuple[list[Signal], list[PaperContract], str | None]:
    """The signals and paper contracts among stream entries, and the last entry's id.

    An entry that is neither (a newer version, a stray write) is left out: the view shows what
    it can.
    """
    signals: list[Signal] = []
    paper: list[PaperContract] = []
    last: str | None = None
    for eid, fields in rows or []:
        last = text(eid)
        raw = fields.get(FIELD)
        if raw is None:
            continue
        try:
            rec = decode(raw)
        except RecordError:
            continue
        if isinstance(rec, Signal):
            signals.append(rec)
        elif isinstance(rec, PaperContract):
            paper.append(rec)
    return signals, paper, last


def _oldest_first(client: redis.Redis, key: str, count: int) -> list[Any]:
    """The newest ``count`` entries of a stream, oldest first."""
    rows: Any = client.xrevrange(key, count=count)
    return list(reversed(rows or []))


def _follow(client: redis.Redis, board: Board, positions: dict[str, str], console: Console) -> None:
    """Show the board and keep it up to date until SIGTERM or Ctrl-C."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    backoff = Backoff(initial=0.2, cap=5.0)
    with Live(board.render(), console=console, refresh_per_second=4, screen=False) as live:
        while not stopping.is_set():
            try:
                resp: Any = client.xread(positions, count=500, block=1000)  # type: ignore[arg-type]
                backoff.reset()
            except RETRIABLE:
                stopping.wait(backoff.next_delay())
                continue
            for stream, rows in resp or []:
                signals, paper, last_id = _records(rows)
                if last_id:
                    positions[text(stream)] = last_id
                board.feed(signals, paper)
            live.update(board.render())


def main(settings: BusSettings, once: bool = False, last: int = 15) -> int:
    """Show the board; with ``once`` print it one time and return."""
    keys = Keys(settings.prefix)
    client = connect_sync(settings)
    console = Console()
    board = Board(keep=last)
    try:
        signals, _, sig_id = _records(_oldest_first(client, keys.signals(), last))
        # Enough paper entries to know every account's latest numbers.
        _, paper, pap_id = _records(_oldest_first(client, keys.paper(), max(last, 2000)))
    except RETRIABLE as exc:
        console.print(
            f"Redis at {settings.redis_url} does not answer ({exc}). Is QuantumFlux running (qf up)?"
        )
        return 1
    board.feed(signals, paper)
    if once:
        console.print(board.render())
        if not signals and not paper:
            console.print("No signals yet: is the signals service running (qf signals-service, or qf up)?")
        return 0
    try:
        _follow(client, board, {keys.signals(): sig_id or "0-0", keys.paper(): pap_id or "0-0"}, console)
    except KeyboardInterrupt:
        pass
    return 0
