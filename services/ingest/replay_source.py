"""Frames of a recording made with ``qf record`` (``--source replay:FILE``)."""

from __future__ import annotations

import threading
from pathlib import Path

from quantumflux.ingest.source import FrameSink, FrameSource, paced


class ReplaySource(FrameSource):
    """Plays a recording back at ``speed`` times real time, or as fast as possible (None)."""

    def __init__(self, path: Path, speed: float | None) -> None:
        self.path = path
        self.speed = speed

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        from quantumflux.ingest.recording import read_recording

        if not self.path.is_file():
            raise SystemExit(f"qf: no recording at {self.path}")
        pace = "as fast as possible" if self.speed is None else f"at {self.speed:g}× real time"
        sink.report("running", f"replaying {self.path.name} {pace}")
        reader = read_recording(self.path)
        if self.speed is None:
            sink.frames(reader, stop)
        else:
            paced(reader, self.speed, sink.frame, stop)
        # Everything read goes to Redis before the replay says it is done (however slow the readers).
        sink.drain(stop)
        n = sink.counts()
        sink.say(
            f"Replayed {n['frames']} frames: {n['ticks']} ticks, "
            f"{n['records']} records published, {n['malformed']} malformed frames skipped."
        )
        if reader.bad_lines:
            first = (reader.errors or ["?"])[0]
            sink.say(
                f"{reader.bad_lines} lines of the recording could not be read and were skipped (first: {first})."
            )
