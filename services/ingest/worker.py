"""The ingest service: a source of frames (Chrome, a recording, the simulator) → decoder → Redis.

The decoder is pure; this shell feeds it, hands what it yields to the publisher thread, keeps a
heartbeat with counters and says what it is doing on ``service_status`` and ``chrome_status``.
It is given its source (see :mod:`quantumflux.ingest.source`) and is the sink the source feeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from quantumflux.bus.health import status_event
from quantumflux.bus.records import Event
from quantumflux.bus.service import ServiceShell
from quantumflux.ingest.config import IngestSettings
from quantumflux.ingest.coverage import CaptureMarks
from quantumflux.ingest.decode import protocol_report
from quantumflux.ingest.decoder import DEFAULT_WS_URL_PATTERN, Decoder
from quantumflux.ingest.frames import Frame
from quantumflux.ingest.payouts import ASSETS_EVENT, PayoutChanges
from quantumflux.ingest.publisher import Publisher
from quantumflux.ingest.registry import open_source
from quantumflux.ingest.repeats import RepeatFilter
from quantumflux.ingest.source import FrameSource

log = logging.getLogger("qf.ingest")
SERVICE = "ingest"
# How much of a frame the log shows when the decoder fails on it.
FRAME_EXCERPT = 200
# Seconds between ``alive`` capture marks: well inside the candle service's closing grace (2 s).
ALIVE_EVERY = 1.0
# The marks go out just after each whole second, so the end of every candle (always a whole
# second) is vouched for within this much of it: with no grace, a candle closes complete at
# once instead of waiting for the next tick, and a strategy decides on it that much sooner.
ALIVE_AFTER = 0.05
# Seconds between looks at the decoder's protocol findings: a changed protocol is told within this.
DRIFT_EVERY = 1.0


class IngestWorker(ServiceShell):
    """Wires one source to the decoder and the publisher.

    Redis being away never stops it: the publisher buffers and reports, so the shell's
    waiting for Redis is not used; its stop flag and heartbeat are.
    """

    settings: IngestSettings

    def __init__(
        self,
        settings: IngestSettings,
        source: FrameSource | None = None,
        *,
        out: Callable[[str], None] | None = None,
        linger: bool = False,
    ) -> None:
        super().__init__(SERVICE, log)
        self.settings = settings
        self.source = source if source is not None else open_source(settings.source, settings)
        # As a service (`qf ingest`, `qf up`) a finished replay stays up, idle, so the launcher
        # does not take its end for a crash and replay it again; `qf replay` exits.
        self.linger = linger
        self.out = out or (lambda line: print(line, flush=True))
        self.decoder = Decoder(
            broker_utc_offset=settings.broker_utc_offset,
            url_pattern=settings.ws_url_pattern or DEFAULT_WS_URL_PATTERN,
        )
        # A recording must not outrun Redis: replay waits for room instead of dropping.
        self.publisher = Publisher(
            settings, report=self._redis_report, block_when_full=settings.source.startswith("replay:")
        )
        self.client, self.keys = self.publisher.client, self.publisher.keys
        self.repeats = RepeatFilter()
        self.payouts = PayoutChanges()
        self._next_drift_check = 0.0
        self.protocol_reports = 0
        self.marks = CaptureMarks(live=not settings.source.startswith("replay:"))
        self._fed_by: set[str] = set()  # sockets that gave records: the broker's
        self.decoder_errors: Counter[str] = Counter()
        self.frames_seen = 0
        self.records = 0
        self.started = time.time()

    # ---- the sink a source feeds ----------------------------------------------------------

    def frame(self, frame: Frame) -> None:
        """Decode one frame and queue what it carries."""
        self.frames_seen += 1
        out = self._decode(frame)
        if out:
            self._fed_by.add(frame.socket)
            self._hand_over(out, frame.ts)
        self._watch_protocol()

    def frames(self, frames: Iterable[Frame], stop: threading.Event | None = None, batch: int = 512) -> None:
        """Decode frames as fast as possible, handing records over in batches (one lock round each)."""
        pending: list[Any] = []
        n = 0
        for frame in frames:
            n += 1
            out = self._decode(frame)
            if out:
                self._fed_by.add(frame.socket)
                if self.marks.pending:  # a new coverage begins with exactly these records
                    self._hand_over(pending)
                    self._hand_over(out, frame.ts)
                    pending = []
                    continue
                pending.extend(out)
                if len(pending) >= batch:
                    self._hand_over(pending)
                    pending = []
                    self._watch_protocol()
                    if stop is not None and stop.is_set():
                        break
        self.frames_seen += n
        self._hand_over(pending, frame.ts if n else None)
        self._watch_protocol(force=True)

    def socket_closed(self, socket_id: str) -> None:
        """A socket closed: the decoder forgets what it knew about it.

        When it was the broker's, what it sends after reopening begins a new coverage: the
        ticks of the break are missing.
        """
        self.decoder.socket_closed(socket_id)
        if socket_id in self._fed_by:
            self._fed_by.discard(socket_id)
            self.marks.restarted()

    def chrome(self, state: str, reason: str, extra: dict[str, Any]) -> None:
        """A change in the connection to Chrome: log it and publish a ``chrome_status`` event."""
        self.out(f"Chrome {state}: {reason}")
        self.marks.restarted()  # lost, or back after a break: either way coverage starts anew
        if state == "disconnected" and "cannot reach" in reason:
            self.out(
                "  Start Chrome with --remote-debugging-port=9222 (or set QF_CHROME_URL); "
                "ingest keeps trying and reports when it is connected."
            )
        self.publisher.put(Event("chrome_status", time.time(), {"state": state, "reason": reason, **extra}))

    def report(self, state: str, message: str, **extra: Any) -> None:
        """Publish a ``service_status`` event, in order with the records and kept while Redis is away."""
        self._state = state
        self.publisher.put(status_event(SERVICE, self.settings.instance, state, message, **extra))

    def say(self, line: str) -> None:
        """A line for the terminal."""
        self.out(line)

    def drain(self, stop: threading.Event) -> None:
        """Wait until the publisher has sent everything, however slow the readers (or a stop)."""
        while not self.publisher.wait_idle(timeout=0.5) and not stop.is_set():
            pass

    def counts(self) -> dict[str, Any]:
        """What was handled so far (the heartbeat's counters)."""
        return self.info()

    # ---- decoding -------------------------------------------------------------------------

    def _decode(self, frame: Frame) -> list[Any]:
        # A decoder bug must cost one frame, not the service: count it, say it once, go on.
        try:
            return self.decoder.feed(frame)
        except Exception as exc:
            kind = type(exc).__name__
            self.decoder_errors[kind] += 1
            if self.decoder_errors[kind] == 1:
                log.error(
                    "the decoder failed on a frame (%s: %s); skipping such frames. The frame began: %r",
                    kind,
                    exc,
                    frame.payload[:FRAME_EXCERPT],
                    exc_info=exc,
                )
            return []

    def _hand_over(self, records: list[Any], captured: float | None = None) -> None:
        records = self.repeats.filter(records)
        if not records:
            return
        # What changed in the asset list goes out right after the list, as Payout records.
        records += [
            change
            for record in records
            if type(record) is Event and record.type == ASSETS_EVENT
            for change in self.payouts.changes(record)
        ]
        if captured is not None:
            mark = self.marks.records(captured)
            if mark is not None:
                self.publisher.put_capture(mark)
        self.records += len(records)
        self.publisher.put_many(records)

    def _watch_protocol(self, force: bool = False) -> None:
        """Publish a ``report`` event when the decoder found new changes in the broker's protocol.

        Called from the decoding thread only: the decoder is not shared between threads, and
        findings only appear while frames are decoded, so a look every second there is enough.
        """
        now = time.monotonic()
        if not force and now < self._next_drift_check:
            return
        self._next_drift_check = now + DRIFT_EVERY
        report = protocol_report(self.decoder.drift_report())
        if report is not None:
            self.protocol_reports += 1
            log.warning("%s. %s", report["summary"], report["suggestion"])
            self.publisher.put(Event("report", time.time(), report))

    def _beat_capture(self, stop: threading.Event) -> None:
        """Send ``alive`` marks while capturing; records lost from a full buffer break coverage."""
        dropped = self.publisher.dropped
        while not stop.wait(_until_next_beat(time.time())):
            if self.publisher.dropped != dropped:
                dropped = self.publisher.dropped
                self.marks.restarted()
            mark = self.marks.beat(time.time())
            if mark is not None:
                self.publisher.put_capture(mark)

    def _redis_report(self, state: str, message: str, extra: dict[str, Any]) -> None:
        self.report(state, message, **extra)

    def info(self) -> dict[str, Any]:
        """Counters for the heartbeat."""
        dec = self.decoder.counters
        return {
            "source": self.settings.source,
            "frames": self.frames_seen,
            "records": self.records,
            "ticks": dec.get("ticks", 0),
            "malformed": sum(v for k, v in dec.items() if k.startswith("malformed")),
            "decoder_error": sum(self.decoder_errors.values()),
            # Frames of other sockets in the same Chrome (chat, QuantumFlux's own chart, …), left alone.
            "ignored_frames": dec.get("ignored_socket", 0),
            "repeated_ticks": self.repeats.dropped,
            "protocol_reports": self.protocol_reports,
            **self.publisher.counters(),
            **self.source.info(),
        }

    # ---- running --------------------------------------------------------------------------

    def run(self) -> int:
        """Run the source until it ends or a signal stops it; returns the exit code."""
        stop = self.stopping
        self.handle_stop_signals()
        self.publisher.start()
        threading.Thread(target=self._beat_capture, args=(stop,), name="capture-marks", daemon=True).start()
        self.start_heartbeat(self.info)
        self.report("starting", f"ingest starting, source {self.settings.source}")
        try:
            self.source.run(self, stop)
            if self.linger and not stop.is_set():
                self.report("running", "replay finished; idle until stopped")
                self.out("Replay finished; staying up until stopped (Ctrl-C).")
                stop.wait()
        finally:
            self._watch_protocol(force=True)
            self.report("stopped", "ingest stopped", **self.info())
            self.publisher.stop(timeout=5.0)
            self.stop_heartbeat()
        return 0


def _until_next_beat(now: float) -> float:
    """Seconds until the next ``alive`` mark: :data:`ALIVE_AFTER` past the next whole multiple of
    :data:`ALIVE_EVERY`."""
    due = (now - ALIVE_AFTER) // ALIVE_EVERY * ALIVE_EVERY + ALIVE_EVERY + ALIVE_AFTER
    return due - now
