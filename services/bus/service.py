"""What the stream workers' loops share: a stop flag set by SIGTERM/SIGINT, status reports, waiting for Redis.

A worker subclasses :class:`ServiceShell`, sets ``settings``, ``client`` and ``keys``, and calls
:meth:`ServiceShell.handle_stop_signals` and :meth:`ServiceShell.connect` from its ``run``.
"""

from __future__ import annotations

import logging
import signal
from collections import deque
from typing import Any

import redis

from services.bus.config import BusSettings
from services.bus.connection import RETRIABLE, wait_for_redis
from services.bus.health import publish_event, status_event
from services.bus.keys import Keys
from services.bus.records import Event


class StatusReporter:
    """Publishes ``service_status`` events in order, keeping the ones Redis did not take.

    A status that could not be published (Redis away) is kept with the time it happened and sent
    before the next one, so the events tell each outage's story in order: degraded, then
    recovered.
    """

    def __init__(self, client: redis.Redis, keys: Keys, service: str, instance: str, keep: int = 100) -> None:
        self.client = client
        self.keys = keys
        self.service = service
        self.instance = instance
        self.unsent: deque[Event] = deque(maxlen=keep)

    def publish(self, state: str, message: str, **extra: Any) -> bool:
        """Queue a status (stamped now) and send everything queued; False when Redis did not take it."""
        self.unsent.append(status_event(self.service, self.instance, state, message, **extra))
        return self.flush()

    def flush(self) -> bool:
        """Send the statuses still waiting, oldest first; False when Redis does not answer."""
        while self.unsent:
            try:
                publish_event(self.client, self.keys, self.unsent[0])
            except RETRIABLE:
                return False
            self.unsent.popleft()
        return True


class ServiceShell:
    """Stop flag, status state and Redis waiting of one blocking worker process."""

    settings: BusSettings
    client: redis.Redis
    keys: Keys

    def __init__(self, service: str, log: logging.Logger) -> None:
        self.service = service
        self.log = log
        self._stop = False
        self._state = "starting"
        # The problem last reported; a repeated one is not logged again.
        self._last_problem = ""
        self._reporter: StatusReporter | None = None

    @property
    def status(self) -> StatusReporter:
        """The status publisher (made on first use: ``client`` and ``keys`` are set by then)."""
        if self._reporter is None:
            self._reporter = StatusReporter(self.client, self.keys, self.service, self.settings.instance)
        return self._reporter

    def stop(self, *_: object) -> None:
        """Ask the loop to finish its batch and stop."""
        self._stop = True

    def handle_stop_signals(self) -> None:
        """SIGTERM and SIGINT ask the loop to stop (call from the main thread)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def report(self, state: str, message: str, **extra: Any) -> None:
        """Log a status change and publish it as a ``service_status`` event (if Redis answers)."""
        self._state = state
        (self.log.warning if state == "degraded" else self.log.info)("%s: %s", state, message)
        self.status.publish(state, message, **extra)

    def connect(self) -> bool:
        """Wait for Redis (reporting while it is away); False if asked to stop meanwhile."""

        def retry(exc: Exception, delay: float) -> None:
            msg = f"Redis at {self.settings.redis_url} does not answer ({exc}); trying again"
            if msg != self._last_problem:
                self._last_problem = msg
                self._state = "degraded"
                self.log.warning(msg)
                # Kept until Redis is back, then published before the recovery.
                self.status.publish("degraded", f"Redis does not answer ({exc})", problem="redis")

        ok = wait_for_redis(self.client, on_retry=retry, stop=lambda: self._stop)
        return ok and not self._stop
