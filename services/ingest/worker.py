"""The ingest service: a source of frames (Chrome, a recording, the simulator) → decoder → Redis.

The decoder is pure; this shell feeds it, hands what it yields to the publisher thread, keeps a
heartbeat with counters and says what it is doing on ``service_status`` and ``chrome_status``.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from services.bus.health import Heartbeat, status_event
from services.bus.records import Event, Tick
from services.ingest.config import IngestSettings, parse_speed
from services.ingest.decoder import DEFAULT_WS_URL_PATTERN, Decoder
from services.ingest.frames import Frame
from services.ingest.publisher import Publisher

log = logging.getLogger("qf.ingest")
SERVICE = "ingest"
# The in-process simulator's socket address: loopback, so the default URL pattern accepts it.
SIM_URL = "ws://127.0.0.1/socket.io/?EIO=4&transport=websocket"


class IngestWorker:
    """Wires one source to the decoder and the publisher."""

    def __init__(
        self, settings: IngestSettings, *, out: Callable[[str], None] | None = None, linger: bool = False
    ) -> None:
        self.settings = settings
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
        self.heartbeat = Heartbeat(settings, SERVICE, info=self.info)
        self.capture: Any = None
        self.repeats = RepeatFilter()
        self.frames = 0
        self.records = 0
        self.started = time.time()

    # ---- wiring ------------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """Decode one frame and queue what it carries."""
        self.frames += 1
        out = self.decoder.feed(frame)
        if out:
            out = self.repeats.filter(out)
            self.records += len(out)
            self.publisher.put_many(out)

    def on_chrome(self, state: str, reason: str, extra: dict[str, Any]) -> None:
        """A change in the connection to Chrome: log it and publish a ``chrome_status`` event."""
        self.out(f"Chrome {state}: {reason}")
        if state == "disconnected" and "cannot reach" in reason:
            self.out(
                "  Start Chrome with --remote-debugging-port=9222 (or set QF_CHROME_URL); "
                "ingest keeps trying and reports when it is connected."
            )
        self.publisher.put(Event("chrome_status", time.time(), {"state": state, "reason": reason, **extra}))

    def status(self, state: str, message: str, **extra: Any) -> None:
        """Publish a ``service_status`` event of this service."""
        self.publisher.put(status_event(SERVICE, self.settings.instance, state, message, **extra))

    def _redis_report(self, state: str, message: str, extra: dict[str, Any]) -> None:
        self.status(state, message, **extra)

    def info(self) -> dict[str, Any]:
        """Counters for the heartbeat."""
        dec = self.decoder.counters
        out: dict[str, Any] = {
            "source": self.settings.source,
            "frames": self.frames,
            "records": self.records,
            "ticks": dec.get("ticks", 0),
            "malformed": sum(v for k, v in dec.items() if k.startswith("malformed")),
            # Frames of other sockets in the same Chrome (chat, QuantumFlux's own chart, …), left alone.
            "ignored_frames": dec.get("ignored_socket", 0),
            "repeated_ticks": self.repeats.dropped,
            **self.publisher.counters(),
        }
        if self.capture is not None:
            out["chrome_connected"] = bool(self.capture.connected)
            out["chrome_disconnects"] = self.capture.counters.get("disconnects", 0)
        return out

    # ---- running -----------------------------------------------------------------------------

    def run(self) -> int:
        """Run the configured source until it ends or a signal stops it; returns the exit code."""
        source = self.settings.source
        self.publisher.start()
        self.heartbeat.start()
        self.status("starting", f"ingest starting, source {source}")
        try:
            if source == "cdp":
                self._run_cdp()
            elif source == "sim":
                stop = _stop_flag()
                self.status("running", "decoding the simulated broker's frames in-process (no browser)")
                self.out("Simulated broker in-process (no browser); Ctrl-C stops.")
                self._run_frames(sim_frames(stop), speed=None, stop=stop)
            elif source.startswith("replay:"):
                path = Path(source.removeprefix("replay:"))
                self._run_replay(path, parse_speed(self.settings.speed))
            else:
                self.out(f"Unknown source {source!r}: use cdp, sim or replay:FILE")
                return 2
        finally:
            self.status("stopped", "ingest stopped", **self.info())
            self.publisher.stop(timeout=5.0)
            self.heartbeat.stop()
        return 0

    def _run_cdp(self) -> None:
        import trio

        from services.ingest.capture import Capture

        self.capture = capture = Capture(
            self.settings.chrome_url,
            self.on_frame,
            self.on_chrome,
            on_closed=self.decoder.socket_closed,
            open_url=self.settings.open_url,
            ping_interval=self.settings.chrome_ping_interval,
            ping_timeout=self.settings.chrome_ping_timeout,
        )

        async def main() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with trio.open_nursery() as nursery:
                    await nursery.start(capture.run)
                    self.status("running", f"capturing from Chrome at {self.settings.chrome_url}")
                    self.out(f"Capturing from Chrome at {self.settings.chrome_url} (Ctrl-C stops).")
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        break

        trio.run(main)

    def _run_replay(self, path: Path, speed: float | None) -> None:
        from services.ingest.recording import read_recording

        if not path.is_file():
            raise SystemExit(f"qf: no recording at {path}")
        self.status(
            "running",
            f"replaying {path.name} "
            + ("as fast as possible" if speed is None else f"at {speed:g}× real time"),
        )
        reader = read_recording(path)
        stop = _stop_flag()
        if speed is None:
            self._run_frames_fast(reader, stop=stop)
        else:
            self._run_frames(reader, speed=speed, stop=stop)
        # Everything read goes to Redis before the replay says it is done (however slow the readers).
        while not self.publisher.wait_idle(timeout=0.5) and not stop.is_set():
            pass
        self.out(
            f"Replayed {self.frames} frames: {self.decoder.counters.get('ticks', 0)} ticks, "
            f"{self.records} records published, {self.info()['malformed']} malformed frames skipped."
        )
        bad = getattr(reader, "bad_lines", 0)
        if bad:
            first = (getattr(reader, "errors", None) or ["?"])[0]
            self.out(f"{bad} lines of the recording could not be read and were skipped (first: {first}).")
        if self.linger and not stop.is_set():
            self.status("running", "replay finished; idle until stopped")
            self.out("Replay finished; staying up until stopped (Ctrl-C).")
            stop.wait()

    def _run_frames_fast(
        self, frames: Iterable[Frame], batch: int = 512, stop: threading.Event | None = None
    ) -> None:
        """Replay as fast as possible: hand records over in batches (one lock round per batch)."""
        stop = stop or _stop_flag()
        feed = self.decoder.feed
        pending: list[Any] = []
        n = 0
        for frame in frames:
            n += 1
            out = feed(frame)
            if out:
                pending.extend(out)
                if len(pending) >= batch:
                    self._hand_over(pending)
                    pending = []
                    if stop.is_set():
                        break
        self.frames += n
        self._hand_over(pending)

    def _hand_over(self, records: list[Any]) -> None:
        records = self.repeats.filter(records)
        self.records += len(records)
        self.publisher.put_many(records)

    def _run_frames(
        self, frames: Iterable[Frame], *, speed: float | None, stop: threading.Event | None = None
    ) -> None:
        """Push frames through the decoder; pace them by their own times unless ``speed`` is None."""
        stop = stop or _stop_flag()
        first_ts: float | None = None
        wall0 = time.monotonic()
        for frame in frames:
            if stop.is_set():
                break
            if speed is not None:
                if first_ts is None:
                    first_ts = frame.ts
                due = wall0 + (frame.ts - first_ts) / speed
                delay = due - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            self.on_frame(frame)


class RepeatFilter:
    """Drops a tick already published from another socket (two tabs on the same feed).

    Every tab on the broker's page gets the same ``updateStream``; the market saw each tick once,
    so it is published once. A tick is the same when asset, time and price are equal; the last
    few hundred of each asset are remembered.
    """

    def __init__(self, per_asset: int = 512) -> None:
        self.per_asset = per_asset
        self._seen: dict[str, tuple[set[tuple[float, float]], deque[tuple[float, float]]]] = {}
        self.dropped = 0

    def filter(self, records: list[Any]) -> list[Any]:
        """The records without ticks seen before (other records pass untouched)."""
        out = []
        for rec in records:
            if type(rec) is Tick:
                entry = self._seen.get(rec.asset)
                if entry is None:
                    entry = self._seen[rec.asset] = (set(), deque())
                seen, order = entry
                key = (rec.ts, rec.price)
                if key in seen:
                    self.dropped += 1
                    continue
                seen.add(key)
                order.append(key)
                if len(order) > self.per_asset:
                    seen.discard(order.popleft())
            out.append(rec)
        return out


def _stop_flag() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so a sync loop can stop cleanly."""
    flag = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        flag.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return flag


def sim_frames(stop: threading.Event) -> Iterator[Frame]:
    """Frames of the simulated broker, generated in-process in real time until ``stop`` is set.

    The market is the one ``qf sim`` serves (same ``QF_SIM_*`` settings and seed); the chart
    selection of its first asset (1m) is sent once, as the page would, so history and
    ``platform_state`` flow too.
    """
    from services.sim.config import SimSettings
    from services.sim.feed import SimFeed, as_frames

    sim = SimSettings()
    feed = SimFeed(seed=sim.sim_seed, assets=sim.sim_assets, rate=sim.sim_rate, start=time.time())
    url = SIM_URL
    now = time.time()
    yield from as_frames([("updateAssets", feed.assets_body())], ts=now, url=url)
    asset = feed.assets[0]
    pick = json.dumps(["changeSymbol", {"asset": asset, "period": 60}], separators=(",", ":"))
    yield Frame(now, "sent", "sim", url, 1, "42" + pick)
    history = feed.history_body(asset, 60)
    if history is not None:
        yield from as_frames([("updateHistoryNewFast", history)], ts=now, url=url)
    while not stop.is_set():
        wait = feed.next_time() - time.time()
        if wait > 0 and stop.wait(min(wait, 0.5)):
            return
        now = time.time()
        ticks = feed.step(now)
        if ticks:
            yield from as_frames([("updateStream", feed.update_stream(t)) for t in ticks], ts=now, url=url)
