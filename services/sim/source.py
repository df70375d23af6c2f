"""The simulated broker as a source of frames for ingest, in-process and without a browser.

``qf ingest --source sim`` decodes exactly what ``qf sim`` would send a page: the same market
(``QF_SIM_*`` settings and seed), framed the way the broker frames it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from quantumflux.ingest.frames import Frame
from quantumflux.ingest.source import FrameSink, FrameSource
from quantumflux.sim.config import SimSettings
from quantumflux.sim.feed import SimFeed, as_frames

# The in-process simulator's socket address: loopback, so the default URL pattern accepts it.
SIM_URL = "ws://127.0.0.1/socket.io/?EIO=4&transport=websocket"


def sim_source(_arg: str, _ingest: Any) -> SimSource:
    """``--source sim``: the market of the ``QF_SIM_*`` settings (a bad one ends the command)."""
    from quantumflux.bus.cli import settings_or_exit

    return SimSource(settings_or_exit(SimSettings, "sim"))


class SimSource(FrameSource):
    """Generates the simulated market's frames in real time."""

    def __init__(self, settings: SimSettings | None = None) -> None:
        self.settings = settings or SimSettings()

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        sink.report("running", "decoding the simulated broker's frames in-process (no browser)")
        sink.say("Simulated broker in-process (no browser); Ctrl-C stops.")
        for frame in sim_frames(self.settings, stop):
            if stop.is_set():
                return
            sink.frame(frame)


def sim_frames(settings: SimSettings, stop: threading.Event) -> Iterator[Frame]:
    """Frames of the simulated broker, in real time until ``stop`` is set.

    The chart selection of the first asset (1m) is sent once, as the page would, so history and
    ``platform_state`` flow too.
    """
    feed = SimFeed(
        seed=settings.sim_seed, assets=settings.sim_assets, rate=settings.sim_rate, start=time.time()
    )
    now = time.time()
    yield from as_frames([("updateAssets", feed.assets_body())], ts=now, url=SIM_URL)
    asset = feed.assets[0]
    pick = json.dumps(["changeSymbol", {"asset": asset, "period": 60}], separators=(",", ":"))
    yield Frame(now, "sent", "sim", SIM_URL, 1, "42" + pick)
    history = feed.history_body(asset, 60)
    if history is not None:
        yield from as_frames([("updateHistoryNewFast", history)], ts=now, url=SIM_URL)
    while not stop.is_set():
        wait = feed.next_time() - time.time()
        if wait > 0 and stop.wait(min(wait, 0.5)):
            return
        now = time.time()
        ticks = feed.step(now)
        if ticks:
            yield from as_frames(
                [("updateStream", feed.update_stream(t)) for t in ticks], ts=now, url=SIM_URL
            )
