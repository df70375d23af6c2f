"""Where the broker's frames come from: one narrow interface, several sources.

A :class:`FrameSource` has one job, :meth:`FrameSource.run`: hand every frame it gets to a
:class:`FrameSink` (the ingest worker) until it runs out or is asked to stop. Chrome over CDP
and the replay of a recording are sources of ingest; other packages add theirs (the simulator
does) through :mod:`quantumflux.ingest.registry`, so ingest never depends on them.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from quantumflux.ingest.frames import Frame


class FrameSink(Protocol):
    """What a source hands frames and news to."""

    def frame(self, frame: Frame) -> None:
        """Decode one frame and publish what it carries."""

    def frames(self, frames: Iterable[Frame], stop: threading.Event) -> None:
        """As :meth:`frame` for many frames, batched: for sources that need no pacing."""

    def socket_closed(self, socket_id: str) -> None:
        """The socket is gone: a new one with the same id is another socket."""

    def chrome(self, state: str, reason: str, extra: dict[str, Any]) -> None:
        """The connection to the browser changed (connected, disconnected, reconnected)."""

    def report(self, state: str, message: str, **extra: Any) -> None:
        """Say what the service is doing, on the service's status events."""

    def say(self, line: str) -> None:
        """A line for the person watching the terminal."""

    def drain(self, stop: threading.Event) -> None:
        """Wait until everything handed over is in Redis (or ``stop`` is set)."""

    def counts(self) -> dict[str, Any]:
        """What was handled so far: frames, ticks, records, malformed, …"""


class FrameSource(ABC):
    """A source of the broker's frames."""

    @abstractmethod
    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        """Hand frames to ``sink`` until the source ends or ``stop`` is set."""

    def info(self) -> dict[str, Any]:
        """The source's own counters, for the heartbeat."""
        return {}


def paced(
    frames: Iterable[Frame], speed: float, deliver: Callable[[Frame], None], stop: threading.Event
) -> None:
    """Deliver frames at ``speed`` times the pace of their own times, until ``stop`` is set."""
    first_ts: float | None = None
    wall0 = time.monotonic()
    for frame in frames:
        if stop.is_set():
            return
        if first_ts is None:
            first_ts = frame.ts
        delay = wall0 + (frame.ts - first_ts) / speed - time.monotonic()
        if delay > 0 and stop.wait(delay):
            return
        deliver(frame)
