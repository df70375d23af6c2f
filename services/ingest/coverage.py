"""When capture says it (re)started or is still running, for the candle service (pure).

A candle is only whole if capture ran for all of its interval. Capture marks on the tick streams
say so in band: ``start`` right before the first records after capture (re)started (service
start, Chrome back, the broker's socket reopened, records lost), then ``alive`` about once a
second while capture runs. Nothing is said while Chrome is lost: the silence is the news.

Live sources stamp ``alive`` with the wall clock, so a quiet market still counts as watched; a
recording stamps it with its own newest frame time, so its end is the end of its coverage.
"""

from __future__ import annotations

from quantumflux.bus.records import CaptureMark


class CaptureMarks:
    """The marks one capture owes the tick streams; feed it what happens, send what it returns.

    Called from the capture thread (records, Chrome news) and the beat thread; each call only
    reads or sets plain attributes, so a race costs at most one mark a moment early or late.
    """

    def __init__(self, live: bool) -> None:
        self.live = live
        self.pending = True  # the next records begin a new coverage
        self.capturing = False
        self.newest = 0.0  # capture time of the newest frame that gave records
        self._said = 0.0  # ts of the last mark given

    def restarted(self) -> None:
        """Capture broke off (Chrome lost or back, the broker's socket closed, records lost)."""
        self.pending = True
        self.capturing = False

    def records(self, ts: float) -> CaptureMark | None:
        """Records captured at ``ts`` are about to be sent: the ``start`` mark to send first, if due."""
        self.newest = ts
        if not self.pending:
            return None
        self.pending = False
        self.capturing = True
        self._said = ts
        return CaptureMark("start", ts)

    def beat(self, now: float) -> CaptureMark | None:
        """The ``alive`` mark to send now, if capture is running and time moved on."""
        if not self.capturing:
            return None
        ts = now if self.live else self.newest
        if ts <= self._said:
            return None
        self._said = ts
        return CaptureMark("alive", ts)
