"""What browsers may ask for, kept apart from the readers that fill it.

The readers of the bus (:mod:`quantumflux.gateway.reader`) write what they decoded in here; the
REST routes and the Socket.IO namespace only read it. Pure: values in, values out, no Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from quantumflux.bus.ids import id_tuple
from quantumflux.bus.records import Candle, Event, Order, Signal
from quantumflux.gateway.orders import OrderBook, same_view, trading_view
from quantumflux.gateway.rooms import CandleBook, Catalog, Stream
from quantumflux.gateway.status import build_status, protocol_alarm, shape
from quantumflux.gateway.trades import Account, signal_payload

RECENT_SIGNALS = 200  # per stream, sent after its history
ACCOUNT_EVENTS = ("deal", "deals", "balance")


def produced_timeframes(heartbeats: list[dict[str, Any]]) -> set[int]:
    """Timeframes the candle service says it makes, from its heartbeats."""
    produced: set[int] = set()
    for hb in heartbeats:
        tfs = hb.get("timeframes") if hb.get("service") == "candles" else None
        if isinstance(tfs, list):
            produced |= {t for t in tfs if isinstance(t, int) and not isinstance(t, bool) and t > 0}
    return produced


def sort_keys(prefix: str, names: list[str]) -> tuple[list[str], set[int], set[str]]:
    """Heartbeat keys, candle stream timeframes and series assets among the keys under ``prefix``."""
    health, streams, assets = [], set(), set()
    base = f"{prefix}:"
    for name in names:
        kind, _, rest = name[len(base) :].partition(":")
        if kind == "health":
            health.append(name)
        elif kind == "candles" and rest.isdigit():
            streams.add(int(rest))
        elif kind == "series":
            asset, _, seconds = rest.rpartition(":")
            if asset and seconds.isdigit():
                assets.add(asset)
    return health, streams, assets


class ReadModel:
    """The catalog, the candle book, the account, recent signals, the trader's orders and status,
    and the connection status."""

    def __init__(self) -> None:
        self.catalog = Catalog()
        self.book = CandleBook()
        self.account = Account()
        self.signals: dict[Stream, deque[dict[str, Any]]] = {}
        self.orders = OrderBook()
        self.trading: dict[str, Any] = trading_view(None)
        self.platform_state: dict[str, Any] | None = None
        self.chrome: dict[str, Any] | None = None
        # The latest change in the broker's protocol that ingest reported, until the next one.
        self.protocol: dict[str, Any] | None = None
        self.redis_ok = False
        self.status: dict[str, Any] = build_status(False, [], None)
        self.counters = {"relayed": 0, "malformed": 0, "redis_errors": 0}
        self.lag = 0.0
        self.ready = asyncio.Event()  # set once the first look at the bus is done
        self._known_services: dict[str, dict[str, Any]] = {}
        self._heartbeats: list[dict[str, Any]] = []

    # --- Redis health and discovery ----------------------------------------------------------

    def set_redis(self, ok: bool) -> bool:
        """Note whether Redis answers; True when that changed."""
        if ok == self.redis_ok:
            return False
        self.redis_ok = ok
        if not ok:
            self.counters["redis_errors"] += 1
        return True

    def refresh_status(self, heartbeats: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """Rebuild the status; the new one when browsers must be told, else None."""
        if heartbeats is not None:
            self._heartbeats = heartbeats
        status = build_status(self.redis_ok, self._heartbeats, self.chrome, self._known_services)
        self._known_services = dict(status["services"])
        changed = shape(status) != shape(self.status)
        self.status = status
        return status if changed else None

    def learn_bus(self, streams: set[int], assets: set[str], heartbeats: list[dict[str, Any]]) -> None:
        """Take one discovery round: candle streams, series assets and the candle service's timeframes."""
        self.catalog.produced = produced_timeframes(heartbeats)
        self.catalog.streams = streams
        self.catalog.seen |= assets

    async def wait_ready(self, timeout: float = 3.0) -> None:
        """Wait (a little) for the first discovery, so a request right after start is not refused."""
        if not self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), timeout)

    # --- what the readers decoded ------------------------------------------------------------

    def count_malformed(self) -> None:
        """One more bus entry that could not be read."""
        self.counters["malformed"] += 1

    def take_candle(self, c: Candle, entry_id: str) -> None:
        """A candle update read from the bus (its id tells how late it was read)."""
        self.catalog.seen.add(c.asset)
        self.book.observe(c)
        self.lag = max(0.0, time.time() - id_tuple(entry_id)[0] / 1000)

    def take_event(self, event: Event) -> bool:
        """An event read from the bus; False when it carried nothing usable."""
        data = event.data
        if event.type == "chrome_status":
            self.chrome = {**data, "ts": event.ts}
        elif event.type == "platform_state":
            self.platform_state = {"asset": data.get("asset"), "period": data.get("period")}
        elif event.type == "assets":
            self.catalog.set_assets(data.get("assets"))
        elif event.type in ACCOUNT_EVENTS:
            return self.account.take(event.type, data)
        elif event.type == "report":
            # Reports of other kinds may come later: they are not this one's business, not bad.
            self.protocol = protocol_alarm(data, event.ts) or self.protocol
        return True

    def take_signal(self, signal: Signal) -> tuple[Stream, dict[str, Any]]:
        """A signal's stream and payload, remembered for the stream's next history."""
        stream = Stream(signal.asset, signal.timeframe)
        payload = signal_payload(signal)
        recent = self.signals.get(stream)
        if recent is None:
            recent = self.signals[stream] = deque(maxlen=RECENT_SIGNALS)
        recent.append(payload)
        return stream, payload

    def recent_signals(self, stream: Stream) -> list[dict[str, Any]]:
        """The last signals of a stream, oldest first."""
        return list(self.signals.get(stream, ()))

    def take_order(self, order: Order) -> dict[str, Any]:
        """One change of an order; its ``order_update`` payload."""
        return self.orders.take(order)

    def take_trading(self, status: dict[str, Any] | None) -> dict[str, Any] | None:
        """The trader's status as last published (None: not running); the new view when it changed."""
        view = trading_view(status)
        if same_view(self.trading, view):
            self.trading = view
            return None
        self.trading = view
        return view
