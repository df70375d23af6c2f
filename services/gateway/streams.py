"""A browser's streams: starting, changing, stopping, following the platform, resuming.

A stream starts with its history (stored candles joined with what the relay saw meanwhile),
then the live updates that arrived while it was read, with no gap and no twin.
"""

from __future__ import annotations

from typing import Any

from quantumflux.bus.connection import RETRIABLE
from quantumflux.gateway.browsers import Browsers, Client, forming_key
from quantumflux.gateway.config import GatewaySettings
from quantumflux.gateway.delivery import Delivery
from quantumflux.gateway.metrics import Metrics
from quantumflux.gateway.model import ReadModel
from quantumflux.gateway.rooms import (
    Stream,
    StreamRequestError,
    candle_payload,
    follows_history,
    merge_history,
)
from quantumflux.gateway.store import BusStore

MAX_RESUMED = 20


def as_dict(data: Any) -> dict[str, Any]:
    """What a browser sent, as a map (anything else counts as an empty request)."""
    return data if isinstance(data, dict) else {}


def refusal(exc: StreamRequestError) -> dict[str, Any]:
    """The ``stream_error`` payload of a refused request."""
    return {"code": exc.code, "message": exc.message}


def stream_names(streams: list[Stream]) -> list[dict[str, str]]:
    """Streams as the browser names them."""
    return [{"asset": s.asset, "timeframe": s.timeframe} for s in streams]


class StreamDesk:
    """Serves the stream requests of browsers."""

    def __init__(
        self,
        settings: GatewaySettings,
        model: ReadModel,
        store: BusStore,
        browsers: Browsers,
        delivery: Delivery,
        metrics: Metrics,
    ) -> None:
        self.history_limit = settings.gateway_history_limit
        self.model = model
        self.store = store
        self.browsers = browsers
        self.delivery = delivery
        self.metrics = metrics

    def _refuse(self, client: Client, exc: StreamRequestError) -> dict[str, Any]:
        self.delivery.put(client, "stream_error", refusal(exc))
        return {"ok": False, **refusal(exc)}

    async def send_history(self, client: Client, stream: Stream) -> None:
        """Send the history of a stream, then whatever arrived while it was read, with no gap or twin."""
        if stream in client.pending:
            return  # a read is already under way; it will cover this
        client.pending[stream] = []
        # Taken with the join, before any await: nothing can slip between this and the buffer.
        snap = self.model.book.snapshot(stream)
        try:
            stored = await self.store.read_series(stream, self.history_limit)
        except RETRIABLE:
            stored = []
        buffered = client.pending.pop(stream, None)
        if buffered is None or stream not in client.streams:
            return  # stopped meanwhile
        candles, last_closed = merge_history(stored, snap, self.history_limit)
        client.history_closed[stream] = last_closed
        payload = {
            "asset": stream.asset,
            "timeframe": stream.timeframe,
            "candles": [candle_payload(c) for c in candles],
        }
        self.delivery.put(client, "history", payload)
        for signal in self.model.recent_signals(stream):
            self.delivery.put(client, "signal", signal)
        key = forming_key(stream)
        for c in buffered:
            if follows_history(c, last_closed):
                if c.closed:
                    client.outbox.supersede(key)
                self.delivery.put(client, "candle_update", candle_payload(c), None if c.closed else key)
                self.metrics.deliveries.inc()

    async def resend_history(self) -> None:
        """Send every browser the history of every stream it watches again (a full refresh)."""
        for client in self.browsers.all():
            for stream in sorted(client.streams):
                await self.send_history(client, stream)

    async def start(self, client: Client, data: Any) -> dict[str, Any]:
        """Join a stream's room and send its history; a bad request gets ``stream_error``."""
        data = as_dict(data)
        await self.model.wait_ready()
        try:
            stream = self.model.catalog.resolve(data.get("asset"), data.get("timeframe"))
        except StreamRequestError as exc:
            return self._refuse(client, exc)
        self.browsers.join(client, stream)
        self.delivery.put(client, "stream_started", {"asset": stream.asset, "timeframe": stream.timeframe})
        await self.send_history(client, stream)
        return {"ok": True, "asset": stream.asset, "timeframe": stream.timeframe}

    async def _move(self, client: Client, targets: list[Stream]) -> None:
        """Leave every stream for ``targets`` (one asset) and send their histories."""
        for s in list(client.streams):
            self.browsers.leave(client, s)
        for s in targets:
            self.browsers.join(client, s)
        changed = {"asset": targets[0].asset, "timeframes": [s.timeframe for s in targets]}
        self.delivery.put(client, "asset_changed", changed)
        for s in targets:
            await self.send_history(client, s)

    async def change_asset(self, client: Client, data: Any) -> dict[str, Any]:
        """Move every stream of this browser to another asset, keeping the timeframes."""
        data = as_dict(data)
        tfs = sorted({s.tf for s in client.streams}) or ([data["timeframe"]] if data.get("timeframe") else [])
        if not tfs:
            msg = "Start a stream first, or send a timeframe with the asset."
            self.delivery.put(client, "stream_error", {"code": "no_stream", "message": msg})
            return {"ok": False, "code": "no_stream", "message": msg}
        try:
            targets = [self.model.catalog.resolve(data.get("asset"), tf) for tf in tfs]
        except StreamRequestError as exc:
            return self._refuse(client, exc)
        await self._move(client, targets)
        return {"ok": True, "asset": targets[0].asset}

    def stop(self, client: Client, data: Any) -> dict[str, Any]:
        """Leave one stream (``asset`` and ``timeframe`` given) or all of them."""
        data = as_dict(data)
        chosen = list(client.streams)
        if data.get("asset") or data.get("timeframe"):
            chosen = [
                s
                for s in client.streams
                if data.get("asset") in (None, s.asset) and data.get("timeframe") in (None, s.timeframe, s.tf)
            ]
        for s in chosen:
            self.browsers.leave(client, s)
        payload = {"streams": stream_names(sorted(chosen))}
        self.delivery.put(client, "stream_stopped", payload)
        return {"ok": True, **payload}

    async def follow(self, client: Client, state: dict[str, Any]) -> None:
        """Move a browser that follows the platform to the asset and period it shows."""
        asset, period = state.get("asset"), state.get("period")
        if not asset or not period:
            return
        if any(s.asset == asset and s.tf == period for s in client.streams):
            return
        try:
            stream = self.model.catalog.resolve(asset, period)
        except StreamRequestError as exc:
            self._refuse(client, exc)
            return
        await self._move(client, [stream])

    async def set_follow(self, client: Client, data: Any) -> dict[str, Any]:
        """Turn following the platform on or off; on, the browser moves to what it shows now."""
        client.follow = bool(data.get("enabled")) if isinstance(data, dict) else False
        self.delivery.put(client, "follow_platform", {"enabled": client.follow})
        if client.follow and self.model.platform_state:
            await self.follow(client, self.model.platform_state)
        return {"ok": True, "enabled": client.follow}

    async def resume(self, client: Client, data: Any) -> dict[str, Any]:
        """A browser back after a lost connection: restore its streams and send fresh state."""
        data = as_dict(data)
        restored: list[Stream] = []
        failed: list[dict[str, Any]] = []
        await self.model.wait_ready()
        client.follow = bool(data.get("follow_platform", client.follow))
        raw = data.get("streams")
        for item in (raw if isinstance(raw, list) else [])[:MAX_RESUMED]:
            item = as_dict(item)
            try:
                stream = self.model.catalog.resolve(item.get("asset"), item.get("timeframe"))
            except StreamRequestError as exc:
                failed.append(
                    {"asset": item.get("asset"), "timeframe": item.get("timeframe"), "code": exc.code}
                )
                continue
            self.browsers.join(client, stream)
            restored.append(stream)
        payload = {
            "streams": stream_names(restored),
            "failed": failed,
            "follow_platform": client.follow,
            "status": self.model.status,
        }
        self.delivery.put(client, "backend_reconnected", payload)
        for s in restored:
            await self.send_history(client, s)
        return {"ok": True, **payload}
