"""Heartbeats and status events, so a gateway or ``qf status`` can tell which services are alive.

A heartbeat is a key ``{prefix}:health:{service}:{instance}`` holding a msgpack map (service,
instance, pid, started, ts, and whatever counters the service reports) that expires after a TTL.
A status event is a ``service_status`` entry on ``{prefix}:events``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import redis
import redis.asyncio as aioredis

from quantumflux.bus.config import BusSettings
from quantumflux.bus.connection import RETRIABLE
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Event, pack

EVENTS_MAXLEN = 10_000


def publish_event(client: redis.Redis, keys: Keys, event: Event) -> str:
    """Append an event to ``{prefix}:events`` (kept to about the last 10 000)."""
    eid = client.xadd(keys.events(), {"d": pack(event)}, maxlen=EVENTS_MAXLEN, approximate=True)
    return eid.decode() if isinstance(eid, bytes) else str(eid)


def status_event(service: str, instance: str, state: str, message: str = "", **extra: Any) -> Event:
    """A ``service_status`` event: ``state`` is starting, running, degraded, recovered or stopped."""
    data: dict[str, Any] = {"service": service, "instance": instance, "state": state, "message": message}
    data.update(extra)
    return Event(type="service_status", ts=time.time(), data=data)


def heartbeat_value(service: str, instance: str, started: float, info: dict[str, Any]) -> bytes:
    """The msgpack value stored under a heartbeat key."""
    body: dict[str, Any] = {
        "v": 1,
        "service": service,
        "instance": instance,
        "pid": os.getpid(),
        "started": started,
        "ts": time.time(),
    }
    body.update(info)
    return bytes(msgpack.packb(body, use_bin_type=True))


def decode_heartbeat(raw: bytes | str | None) -> dict[str, Any] | None:
    """One stored heartbeat value as a map, or None when it is gone or not a heartbeat."""
    if not isinstance(raw, bytes):
        return None
    try:
        val = msgpack.unpackb(raw, raw=False)
    except (ValueError, msgpack.UnpackException):
        return None
    return val if isinstance(val, dict) else None


def _sorted(beats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(beats, key=lambda h: (str(h.get("service")), str(h.get("instance"))))


def read_heartbeats(client: redis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """Every live heartbeat under the prefix, as maps (expired ones are gone by themselves)."""
    names = list(client.scan_iter(match=keys.health_pattern(), count=500))
    if not names:
        return []
    beats = (decode_heartbeat(raw) for raw in client.mget(names))
    return _sorted([b for b in beats if b is not None])


async def read_heartbeats_async(client: aioredis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """:func:`read_heartbeats` for the asyncio client."""
    names = [name async for name in client.scan_iter(match=keys.health_pattern(), count=500)]
    if not names:
        return []
    beats = (decode_heartbeat(raw) for raw in await client.mget(names))
    return _sorted([b for b in beats if b is not None])


class Heartbeat:
    """A daemon thread that refreshes this process's heartbeat key every ``interval`` seconds.

    ``info`` is called on every beat; what it returns (counters, lag, errors) is stored with the
    beat. Redis being away is tolerated: the beat is simply missed and retried next time.
    """

    def __init__(
        self,
        settings: BusSettings,
        service: str,
        info: Callable[[], dict[str, Any]] | None = None,
        client: redis.Redis | None = None,
    ) -> None:
        from quantumflux.bus.connection import connect_sync

        self.settings = settings
        self.service = service
        self.keys = Keys(settings.prefix)
        self.client = client or connect_sync(settings)
        self.info = info or (lambda: {})
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{service}", daemon=True)
        self.alive = False
        self._last: tuple[float, dict[str, float]] | None = None

    def _with_rates(self, info: dict[str, Any]) -> dict[str, Any]:
        # Per-second rates of the numeric counters since the last beat, so `qf status` can show
        # throughput without sampling twice.
        now = time.monotonic()
        counters = {
            k: float(v) for k, v in info.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        if self._last is not None:
            then, before = self._last
            dt = now - then
            if dt > 0:
                info = dict(info)
                info["rates"] = {
                    k: round((v - before[k]) / dt, 1)
                    for k, v in counters.items()
                    if k in before and v >= before[k]
                }
        self._last = (now, counters)
        return info

    def beat(self) -> bool:
        """Write one heartbeat now; False when Redis did not take it."""
        try:
            info = self._with_rates(self.info())
            value = heartbeat_value(self.service, self.settings.instance, self.started, info)
            self.client.set(
                self.keys.health(self.service, self.settings.instance),
                value,
                px=int(self.settings.heartbeat_ttl * 1000),
            )
            self.alive = True
        except RETRIABLE:
            self.alive = False
        return self.alive

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            self.beat()

    def start(self) -> Heartbeat:
        """Beat once and keep beating in the background."""
        self.beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and remove the key, so the process shows as stopped at once."""
        self._stop.set()
        try:
            self.client.delete(self.keys.health(self.service, self.settings.instance))
        except RETRIABLE:
            pass
