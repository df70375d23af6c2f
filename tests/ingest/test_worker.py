"""The ingest worker fed by a source of its own, against the real Redis."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from quantumflux.ingest.config import IngestSettings
from quantumflux.ingest.frames import Frame
from quantumflux.ingest.recording import read_recording
from quantumflux.ingest.registry import UnknownSource, check_source, open_source, register_source
from quantumflux.ingest.source import FrameSink, FrameSource
from quantumflux.ingest.worker import IngestWorker
from tests.ingest.stack import Bus
from tests.ingest.test_publisher_replay import ticks_of_recording


class Frames(FrameSource):
    """A source that hands over a fixed list of frames, then ends."""

    def __init__(self, frames: list[Frame]) -> None:
        self.frames = frames

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        sink.report("running", "handing over a list of frames")
        for frame in self.frames:
            sink.frame(frame)
        sink.drain(stop)


def poisoned(text: str, n: int) -> Frame:
    return Frame(1.0, "recv", "s1", "wss://api.po.market/socket.io/?EIO=4", 1, f"{text}{n}:" + "x" * 300)


def test_a_frame_that_breaks_the_decoding_costs_that_frame_not_the_service(
    po_data: Path, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    rec = po_data / "sample-recording.jsonl"
    frames = list(read_recording(rec))
    # A decoder bug, as the decoder raises it: on two kinds of frames, twice and once.
    mixed = [poisoned("RUNTIME", 1), *frames[:10], poisoned("RUNTIME", 2), *frames[10:], poisoned("VALUE", 3)]
    settings = IngestSettings(redis_url=redis_url, prefix=prefix)
    worker = IngestWorker(settings, Frames(mixed))
    real_feed = worker.decoder.feed

    def buggy_feed(frame: Frame) -> Any:
        if frame.payload.startswith("RUNTIME"):
            raise RuntimeError("the decoder tripped")
        if frame.payload.startswith("VALUE"):
            raise ValueError("the decoder tripped differently")
        return real_feed(frame)

    worker.decoder.feed = buggy_feed  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="qf.ingest"):
        assert worker.run() == 0

    assert worker.info()["decoder_error"] == 3
    said = [r.getMessage() for r in caplog.records if "decoder failed" in r.getMessage()]
    assert len(said) == 2  # once per kind
    assert "RuntimeError" in said[0] and repr(poisoned("RUNTIME", 1).payload[:200]) in said[0]
    assert "ValueError" in said[1] and "x" * 201 not in said[1]
    bus = Bus(redis_url, prefix)
    try:
        # every good frame after the failures was still decoded and published
        assert bus.ticks() == ticks_of_recording(rec)
        [stopped] = [e for e in bus.events("service_status") if e.data["state"] == "stopped"]
        assert stopped.data["decoder_error"] == 3
    finally:
        bus.close()


def test_sources_are_named_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import quantumflux.ingest.registry as sources

    monkeypatch.setattr(sources, "_SOURCES", dict(sources._SOURCES))
    check_source("cdp")
    check_source("replay:some.jsonl")
    for bad in ("replay", "replay:", "cdp:x", "chrome", "elsewhere:x"):
        with pytest.raises(UnknownSource, match="use cdp, replay:FILE"):
            check_source(bad)
    register_source("frames", lambda _arg, _settings: Frames([]))
    check_source("frames")
    assert isinstance(open_source("frames", IngestSettings()), Frames)


def sim_frames(events: list[tuple[str, Any]], ts: float) -> list[Frame]:
    from quantumflux.sim.feed import as_frames

    return as_frames(events, ts=ts, socket="s1", url="wss://api.po.market/socket.io/?EIO=4")


def test_payout_changes_go_to_the_payouts_stream_and_a_changed_protocol_to_a_report(
    redis_url: str, prefix: str
) -> None:
    from quantumflux.bus.keys import Keys
    from quantumflux.bus.records import Payout, decode
    from quantumflux.sim.feed import SimFeed

    feed = SimFeed(seed=3, assets=["EURUSD_otc", "GBPUSD_otc"], start=1_700_000_000.0)
    listed = feed.assets_body()
    frames = sim_frames([("updateAssets", listed), ("updateAssets", listed)], 1_700_000_001.0)
    feed.set_payout("GBPUSD_otc", 71)
    frames += sim_frames([("updateAssets", feed.assets_body())], 1_700_000_002.0)
    normal = list(frames)
    frames += sim_frames([("updateNewsTicker", {"headline": "x"})], 1_700_000_003.0)

    settings = IngestSettings(redis_url=redis_url, prefix=prefix)
    bus = Bus(redis_url, prefix)
    try:
        assert IngestWorker(settings, Frames(normal)).run() == 0
        assert bus.events("report") == []  # the broker's usual events raise nothing

        worker = IngestWorker(settings, Frames(frames))
        assert worker.run() == 0
        rows = bus.client.xrange(Keys(prefix).payouts())
        payouts = [decode(f[b"d"]) for _id, f in rows]
        assert all(isinstance(p, Payout) for p in payouts)
        # Each run: the first list once per asset, the resent copy nothing, the change once.
        first = [(p.asset, p.payout, p.open) for p in payouts[:3]]
        assert first[:2] == [
            ("EURUSD_otc", feed.payout_of("EURUSD_otc"), True),
            ("GBPUSD_otc", first[1][1], True),
        ]
        assert first[1][1] != 71 and first[2] == ("GBPUSD_otc", 71, True)
        assert len(payouts) == 6
        [report] = bus.events("report")
        assert report.data["report"] == "protocol" and "updateNewsTicker" in report.data["summary"]
        assert report.data["suggestion"] and report.data["findings"][0]["event"] == "updateNewsTicker"
        assert worker.info()["protocol_reports"] == 1
    finally:
        bus.close()


def test_alive_marks_go_out_just_after_each_whole_second() -> None:
    from quantumflux.ingest.worker import ALIVE_AFTER, _until_next_beat

    for now in (100.0, 100.04, 100.05, 100.5, 100.999, 1_796_584_704.98):
        due = now + _until_next_beat(now)
        assert 0 < due - now <= 1.0 + 1e-9
        assert round(due - ALIVE_AFTER, 6) == int(
            round(due - ALIVE_AFTER, 6)
        )  # a whole second, then a little
