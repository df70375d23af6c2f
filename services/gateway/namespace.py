"""The Socket.IO events a browser sends (DESIGN §5), on the default namespace."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from quantumflux.gateway.auth import socket_auth_ok
from quantumflux.gateway.backtests import BacktestProxy
from quantumflux.gateway.browsers import Browsers, Client
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.delivery import Delivery
from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.outbox import Outbox
from quantumflux.gateway.streams import StreamDesk

UNAUTHORIZED = {"code": "unauthorized", "message": "A valid token is needed to connect (auth.token)."}


def unknown_event(event: str) -> dict[str, Any]:
    """The answer to an event the gateway does not take (no event starts trading or loosens a rule)."""
    return {"ok": False, "code": "unknown_event", "message": f"The gateway takes no {event!r} event."}


def wants_resume(auth: Any) -> dict[str, Any] | None:
    """The ``resume`` a connecting browser sent with its auth, when it asks for anything."""
    resume = auth.get("resume") if isinstance(auth, dict) else None
    if isinstance(resume, dict) and (resume.get("streams") or resume.get("follow_platform")):
        return resume
    return None


class BrowserNamespace(socketio.AsyncNamespace):
    """Connect, disconnect, and every request a browser makes."""

    def __init__(
        self,
        settings: GatewaySettings,
        model: ReadModel,
        browsers: Browsers,
        delivery: Delivery,
        desk: StreamDesk,
        backtests: BacktestProxy,
        metrics: Metrics,
    ) -> None:
        super().__init__("/")
        self.settings = settings
        self.model = model
        self.browsers = browsers
        self.delivery = delivery
        self.desk = desk
        self.backtests = backtests
        self.metrics = metrics

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Dispatch to ``on_<event>``; any other event is refused, in so many words."""
        if not hasattr(self, "on_" + (event or "")):
            return unknown_event(event)
        return await super().trigger_event(event, *args)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not socket_auth_ok(self.settings, auth):
            raise socketio.exceptions.ConnectionRefusedError(UNAUTHORIZED)
        client = Client(sid, Outbox(self.settings.gateway_queue_size, self.settings.gateway_slow_seconds))
        self.browsers.add(client)
        self.metrics.clients.set(len(self.browsers))
        self.delivery.open(client)
        self._greet(client)
        resume = wants_resume(auth)
        if resume is not None:
            asyncio.get_running_loop().create_task(self.desk.resume(client, resume))

    def _greet(self, client: Client) -> None:
        """What a browser needs to know at once: status, platform state, assets, a protocol alarm."""
        self.delivery.put(client, "connection_status", self.model.status, ("connection_status",))
        if self.model.platform_state:
            self.delivery.put(client, "platform_state", self.model.platform_state, ("platform_state",))
        if self.model.catalog.assets:
            self.delivery.put(client, "assets", {"assets": self.model.catalog.asset_list()}, ("assets",))
        if self.model.protocol is not None:
            self.delivery.put(client, "protocol_report", self.model.protocol, ("protocol_report",))
        self.delivery.put(client, "trading_status", self.model.trading, ("trading_status",))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        client = self.browsers.remove(sid)
        self.metrics.clients.set(len(self.browsers))
        if client is not None:
            self.delivery.close(client)

    async def on_start_stream(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        return await self.desk.start(client, data) if client else None

    async def on_change_asset(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        return await self.desk.change_asset(client, data) if client else None

    async def on_stop_stream(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        return self.desk.stop(client, data) if client else None

    async def on_resume(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        return await self.desk.resume(client, data) if client else None

    async def on_follow_platform(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        return await self.desk.set_follow(client, data) if client else None

    async def on_get_available_data(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        if client is None:
            return None
        answer = await self.backtests.available_data()
        self.delivery.put(client, "available_data", answer)
        return answer

    async def on_run_backtest(self, sid: str, data: Any = None) -> Any:
        client = self.browsers.get(sid)
        if client is None:
            return None
        status, body = await self.backtests.run(data)
        answer = {
            "ok": status < 400,
            "status": status,
            **(body if isinstance(body, dict) else {"result": body}),
        }
        self.delivery.put(client, "backtest_result", answer)
        return answer
