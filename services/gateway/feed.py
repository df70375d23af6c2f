"""The live feed: what the bus readers bring, fanned out to the browsers that want it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from quantumflux.bus.records import Candle, Event
from quantumflux.gateway.browsers import Browsers, forming_key
from quantumflux.gateway.delivery import Delivery, message
from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.model import ACCOUNT_EVENTS, ReadModel
from quantumflux.gateway.rooms import Stream, candle_payload, follows_history
from quantumflux.gateway.streams import StreamDesk

Announce = Callable[[str, str], Awaitable[None]]


class LiveFeed:
    """Candles, signals, paper trades, platform events and status, to the browsers that want them."""

    def __init__(
        self,
        model: ReadModel,
        browsers: Browsers,
        delivery: Delivery,
        desk: StreamDesk,
        metrics: Metrics,
        announce: Announce,
    ) -> None:
        self.model = model
        self.browsers = browsers
        self.delivery = delivery
        self.desk = desk
        self.metrics = metrics
        self.announce = announce

    def on_candle(self, c: Candle) -> None:
        """Route a candle update to the browsers watching its stream."""
        stream = Stream(c.asset, c.tf)
        watchers = self.browsers.watching(stream)
        if not watchers:
            return
        key = forming_key(stream)
        msg = message("candle_update", candle_payload(c), None if c.closed else key)
        for client in watchers:
            pending = client.pending.get(stream)
            if pending is not None:
                pending.append(c)  # its history is being read; sent right after it
                continue
            if not follows_history(c, client.history_closed.get(stream, -1)):
                continue
            if c.closed and client.outbox.supersede(key):
                self.metrics.coalesced.inc()
            self.delivery.put_message(client, msg)
            self.metrics.deliveries.inc()

    def on_event(self, event: Event) -> None:
        """Relay platform events; move browsers that follow the platform."""
        data = event.data
        if event.type == "platform_state":
            self._platform_state({"asset": data.get("asset"), "period": data.get("period")})
        elif event.type == "assets":
            self._to_all("assets", {"assets": self.model.catalog.asset_list()}, ("assets",))
        elif event.type in ACCOUNT_EVENTS:
            msg = message(event.type, data)
            for client in self.browsers.all():
                self.delivery.put_message(client, msg)
        elif event.type == "report" and data.get("report") == "protocol" and self.model.protocol:
            self._to_all("protocol_report", self.model.protocol, ("protocol_report",))
        elif event.type == "chrome_status" and data.get("state") == "reconnected":
            self._to_all("chrome_reconnected", {"reason": str(data.get("reason") or ""), "ts": event.ts})

    def _to_all(self, event: str, payload: dict[str, Any], coalesce: tuple[str] | None = None) -> None:
        for client in self.browsers.all():
            self.delivery.put(client, event, payload, coalesce)

    def _platform_state(self, state: dict[str, Any]) -> None:
        for client in self.browsers.all():
            self.delivery.put(client, "platform_state", state, ("platform_state",))
            if client.follow:
                asyncio.get_running_loop().create_task(self.desk.follow(client, state))

    def on_signal(self, stream: Stream, payload: dict[str, Any]) -> None:
        """Relay a strategy signal to the browsers watching its stream."""
        msg = message("signal", payload)
        for client in self.browsers.watching(stream):
            # A browser still reading this stream's history gets the signal from the recent list.
            if stream not in client.pending:
                self.delivery.put_message(client, msg)

    def on_paper(self, payload: dict[str, Any]) -> None:
        """Relay a paper trade (opened, settled or voided) to every browser."""
        msg = message("paper_trade", payload)
        for client in self.browsers.all():
            self.delivery.put_message(client, msg)

    def on_order(self, payload: dict[str, Any]) -> None:
        """Relay a change of one of the trader's orders to every browser."""
        msg = message("order_update", payload)
        for client in self.browsers.all():
            self.delivery.put_message(client, msg)

    def on_trading(self, view: dict[str, Any]) -> None:
        """Tell every browser the trader's new status (only the newest one matters)."""
        self._to_all("trading_status", view, ("trading_status",))

    def on_status(self, status: dict[str, Any]) -> None:
        """Tell every browser the new connection status."""
        self.metrics.redis_up.set(1 if status.get("redis") == "connected" else 0)
        self._to_all("connection_status", status, ("connection_status",))

    async def on_redis_change(self, ok: bool) -> None:
        """Redis is back after an outage: say so, and refresh every browser's streams."""
        if not ok or self.model.counters["redis_errors"] == 0:
            return  # going down, or the first contact at start: nothing to recover
        await self.announce("recovered", "Redis answers again; relaying resumed")
        # What a browser watches may have moved on while Redis was away; resend history.
        await self.desk.resend_history()
