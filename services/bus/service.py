"""What the stream workers' loops share: a stop flag set by SIGTERM/SIGINT, status reports,
waiting for Redis with backoff, a heartbeat.

A worker subclasses :class:`ServiceShell`, sets ``settings``, ``client`` and ``keys``, and from
its ``run`` calls :meth:`ServiceShell.handle_stop_signals`, :meth:`ServiceShell.connect` and
:meth:`ServiceShell.start_heartbeat`; on a lost connection it calls
:meth:`ServiceShell.ride_out_outage` and starts again from its last checkpoint.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import redis

from quantumflux.bus.config import BusSettings
from quantumflux.bus.connection import RETRIABLE, wait_for_redis
from quantumflux.bus.health import Heartbeat, publish_event, status_event
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Event


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
    """Stop flag, status state, Redis waiting and heartbeat of one blocking worker process.

    The stop flag is a :class:`threading.Event` (:attr:`stopping`), so a loop can wait on it
    (:meth:`pause`) and wake at once when SIGTERM arrives. ``_stop`` reads and sets the same flag
    for loops written as ``while not self._stop``.
    """

    settings: BusSettings
    client: redis.Redis
    keys: Keys

    def __init__(self, service: str, log: logging.Logger, stopping: threading.Event | None = None) -> None:
        self.service = service
        self.log = log
        self.stopping = stopping or threading.Event()
        self._state = "starting"
        # The problem last reported; a repeated one is not logged again.
        self._last_problem = ""
        self._reporter: StatusReporter | None = None
        self.heartbeat: Heartbeat | None = None

    @property
    def _stop(self) -> bool:
        return self.stopping.is_set()

    @_stop.setter
    def _stop(self, value: bool) -> None:
        if value:
            self.stopping.set()
        else:
            self.stopping.clear()

    @property
    def status(self) -> StatusReporter:
        """The status publisher (made on first use: ``client`` and ``keys`` are set by then)."""
        if self._reporter is None:
            self._reporter = StatusReporter(self.client, self.keys, self.service, self.settings.instance)
        return self._reporter

    def stop(self, *_: object) -> None:
        """Ask the loop to finish its batch and stop."""
        self.stopping.set()

    def pause(self, seconds: float) -> bool:
        """Wait up to ``seconds``, ending early when asked to stop; True when asked to stop."""
        return self.stopping.wait(seconds)

    def handle_stop_signals(self) -> None:
        """SIGTERM and SIGINT ask the loop to stop.

        Only the main thread may set signal handlers; a worker run in another thread (in a test,
        say) is stopped with :meth:`stop` instead, so there this does nothing.
        """
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: object) -> None:
            # The handler runs in the main thread, which may be inside ``stopping.wait()`` holding
            # the Event's own lock: setting it here could deadlock, so another thread sets it.
            self.log.info("stopping (signal %s)", signum)
            threading.Thread(target=self.stop, name="stop-signal", daemon=True).start()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def report(self, state: str, message: str, **extra: Any) -> None:
        """Log a status change and publish it as a ``service_status`` event (if Redis answers)."""
        self._state = state
        (self.log.warning if state == "degraded" else self.log.info)("%s: %s", state, message)
        self.status.publish(state, message, **extra)

    def connect(self, announce: bool = True) -> bool:
        """Wait for Redis (reporting while it is away); False if asked to stop meanwhile.

        ``announce=False`` only logs the wait: the caller has already published that Redis is
        away, and a second event would tell the same outage twice.
        """

        def retry(exc: Exception, delay: float) -> None:
            msg = f"Redis at {self.settings.redis_url} does not answer ({exc}); trying again"
            if msg != self._last_problem:
                self._last_problem = msg
                self._state = "degraded"
                self.log.warning(msg)
                if announce:
                    # Kept until Redis is back, then published before the recovery.
                    self.status.publish("degraded", f"Redis does not answer ({exc})", problem="redis")

        ok = wait_for_redis(self.client, on_retry=retry, stop=self.stopping.is_set, sleep=self.pause)
        return ok and not self._stop

    def ride_out_outage(self, exc: Exception, recovered: str = "Redis answers again") -> bool:
        """Report a lost connection, wait for Redis with backoff, report the recovery.

        False when asked to stop before Redis came back. The caller drops whatever it holds in
        memory beyond its last checkpoint before going on.
        """
        self.report("degraded", f"Redis is not reachable: {exc}", problem="redis")
        if not self.connect(announce=False):
            return False
        self._last_problem = ""
        self.report("recovered", recovered)
        return True

    def start_heartbeat(self, info: Callable[[], dict[str, Any]] | None = None) -> Heartbeat:
        """Start beating (every ``heartbeat_interval``) with ``info``'s counters in each beat."""
        self.heartbeat = Heartbeat(self.settings, self.service, info=info).start()
        return self.heartbeat

    def stop_heartbeat(self) -> None:
        """Stop beating (the key expires on its own)."""
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None
