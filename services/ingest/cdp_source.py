"""Frames from the trader's own Chrome, captured over the DevTools protocol (``--source cdp``)."""

from __future__ import annotations

import threading
from typing import Any

from quantumflux.ingest.config import IngestSettings
from quantumflux.ingest.source import FrameSink, FrameSource

# How often the capture looks at the stop flag; a stop is never noticed later than this.
STOP_POLL = 0.1


class CdpSource(FrameSource):
    """Attaches to Chrome at ``settings.chrome_url`` and keeps capturing across its restarts."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.capture: Any = None

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        import trio

        from quantumflux.ingest.capture import Capture

        url = self.settings.chrome_url
        self.capture = capture = Capture(
            url,
            sink.frame,
            sink.chrome,
            on_closed=sink.socket_closed,
            open_url=self.settings.open_url,
            ping_interval=self.settings.chrome_ping_interval,
            ping_timeout=self.settings.chrome_ping_timeout,
        )

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                await nursery.start(capture.run)
                sink.report("running", f"capturing from Chrome at {url}")
                sink.say(f"Capturing from Chrome at {url} (Ctrl-C stops).")
                while not stop.is_set():
                    await trio.sleep(STOP_POLL)
                nursery.cancel_scope.cancel()

        trio.run(main)

    def info(self) -> dict[str, Any]:
        if self.capture is None:
            return {}
        return {
            "chrome_connected": bool(self.capture.connected),
            "chrome_disconnects": self.capture.counters.get("disconnects", 0),
        }
