"""`qf record FILE [--share]`: every captured frame (both directions, every socket) to a recording.

Credentials are always removed; with ``--share`` only market data is kept and every other frame
is written as its shape (:mod:`quantumflux.ingest.share`).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from quantumflux.ingest.config import IngestSettings
from quantumflux.ingest.frames import Frame


def run_record(settings: IngestSettings, path: Path, *, share: bool = False) -> int:
    """Record until Ctrl-C/SIGTERM; prints how many frames were written. Returns the exit code."""
    import trio

    from quantumflux.ingest.capture import Capture
    from quantumflux.ingest.recording import RecordingWriter

    count = 0
    try:
        writer = RecordingWriter(path, share=share, url_pattern=settings.ws_url_pattern)
        writer.open()
    except OSError as exc:
        print(f"qf: cannot write {path}: {exc.strerror or exc}", flush=True)
        return 2

    def on_frame(frame: Frame) -> None:
        nonlocal count
        writer.write(frame)
        count += 1

    def on_status(state: str, reason: str, _extra: dict[str, Any]) -> None:
        print(f"Chrome {state}: {reason}", flush=True)

    capture = Capture(
        settings.chrome_url,
        on_frame,
        on_status,
        open_url=settings.open_url,
        ping_interval=settings.chrome_ping_interval,
        ping_timeout=settings.chrome_ping_timeout,
    )

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(capture.run)
                kept = "market data only, the rest as its shape" if share else "credentials removed"
                print(f"Recording every WebSocket frame to {path}, {kept} (Ctrl-C stops).", flush=True)
                async for _ in signals:
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    finally:
        writer.close()
        print(f"Wrote {count} frames to {path}.", flush=True)
    return 0
