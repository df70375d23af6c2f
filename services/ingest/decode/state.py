"""What the decoder remembers between frames: per socket and for the whole capture."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from quantumflux.bus.records import Event, HistoryBatch, Tick
from quantumflux.ingest.decode.drift import DriftWatch
from quantumflux.ingest.frames import Frame

_T = TypeVar("_T")

Output = Tick | HistoryBatch | Event

MAX_COUNTER_NAMES = 200
MAX_NAME_LEN = 48
# Orders the page sent that have no answer yet, per socket (to describe a failed one).
MAX_PENDING_ORDERS = 32


class Malformed(Exception):
    """Input the decoder cannot read, found deep inside it: counted as ``malformed:<reason>``.

    Raised by helpers that cannot return a reason themselves (a nesting too deep to follow) and
    caught by :meth:`Decoder.feed`; any other exception out of the decoder is a bug.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class SocketState:
    """What the decoder remembers about one WebSocket."""

    url: str | None
    broker: bool | None  # None: not yet known (no URL, no broker content seen yet)
    offset: float | None = None
    tick_pending: bool = False  # the last frame was the updateStream header
    # Binary events waiting for their attachments, per direction: (name, args, needed, got).
    pending: dict[str, tuple[str, list[Any], int, list[Any]]] = field(default_factory=dict)
    period: int | None = None  # from the last changeSymbol sent on this socket
    periods_by_index: dict[Any, int] = field(default_factory=dict)
    orders: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_PENDING_ORDERS)
    )


class DecoderState:
    """The capture-wide memory and the counters every subject's handlers read and update."""

    def __init__(self, broker_utc_offset: float | None) -> None:
        self.broker_utc_offset = broker_utc_offset
        self._sockets: dict[str, SocketState] = {}
        # The ticks' clock: the last offset measured on any socket, for history before any tick.
        self.last_offset: float | None = broker_utc_offset
        # The deals' clock, measured apart from the ticks' (see trading.measure_deal_clock).
        self.deal_offset: float | None = None
        self.counters: collections.Counter[str] = collections.Counter()
        # Events whose shape differs from the known one (protocol drift), counted per change.
        self.drift = DriftWatch(self.counters)

    def count_name(self, prefix: str, name: str) -> None:
        # Names come from the wire: bound how many distinct counters they can create.
        key = prefix + name[:MAX_NAME_LEN]
        if key not in self.counters and len(self.counters) >= MAX_COUNTER_NAMES:
            key = prefix + "(other)"
        self.counters[key] += 1

    def keep(self, parsed: Iterable[_T | str]) -> list[_T]:
        """The items that were read; each one that was not is counted under the reason it gives."""
        out: list[_T] = []
        counters = self.counters
        for item in parsed:
            if isinstance(item, str):
                counters[item] += 1
            else:
                out.append(item)
        return out


# One broker event: what the decoder knows, the socket it came on, the frame, and its body.
Handler = Callable[[DecoderState, SocketState, Frame, Any], list[Output]]
