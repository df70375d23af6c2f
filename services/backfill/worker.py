"""Paging history through the trader's own page, the shell: the bridge, Redis, the files, the clock.

One request in flight: ask for a window through the page bridge (paced), read exactly its answer
(by ``index``) from the asset's tick stream where ingest publishes it, write the page's new rows
and fsync, then ask for the next. No answer within the time-out is asked again with backoff; an
asset that never answers is reported with the assets the broker does list.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis
import trio

from quantumflux.backfill import pager
from quantumflux.backfill.config import BackfillSettings
from quantumflux.backfill.pager import Progress, Window
from quantumflux.bridge import BridgeError, BridgeSettings, PageBridge
from quantumflux.bus.backoff import Backoff
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.ids import id_tuple, text
from quantumflux.bus.keys import Keys, partition_of
from quantumflux.bus.records import Event, HistoryBatch, RecordError, decode_fields
from quantumflux.files.collect import CollectWriter, collected_times
from quantumflux.files.layout import session_label

HISTORY_EVENT = "loadHistoryPeriod"
READ_BLOCK = 0.5  # seconds one XREAD waits, so a time-out is noticed promptly
EVENTS_LOOKED_AT = 2000


@dataclass(frozen=True, slots=True)
class Job:
    """One series to fill: an asset's candles of ``period`` from ``first`` to ``newest`` (UTC)."""

    asset: str
    period: int
    first: int
    newest: int


class NoAnswer(Exception):
    """The broker never answered for an asset; the message names the assets it does list."""

    def __init__(self, asset: str, known: Sequence[str]) -> None:
        listed = ", ".join(known[:40]) + (" …" if len(known) > 40 else "") if known else "none seen yet"
        super().__init__(
            f"the broker does not answer for {asset!r}: no history came back after every retry. "
            f"Assets it lists: {listed}"
        )
        self.asset = asset


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded answer and when it reached Redis (UTC seconds)."""

    batch: HistoryBatch
    captured: float


@dataclass
class Report:
    """What a run did, per series ``asset-tf``: candles written; and the assets that failed."""

    written: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    retries: int = 0


ProgressHook = Callable[[Job, Progress], None]


class Backfill:
    """Fills :class:`Job` s one page at a time through an open :class:`PageBridge`."""

    def __init__(
        self, settings: BackfillSettings, bridge: PageBridge, on_progress: ProgressHook | None = None
    ):
        self.settings = settings
        self.bridge = bridge
        self.on_progress = on_progress
        self.client: redis.Redis = connect_sync(settings)
        self.keys = Keys(settings.prefix)
        self.session = session_label(time.time())
        self.report = Report()
        self.offset: int | None = (
            None if settings.broker_utc_offset is None else int(settings.broker_utc_offset)
        )
        self._sequence = 0

    async def run(self, jobs: Sequence[Job]) -> Report:
        """Fill every job; an asset that does not answer is reported and its other jobs skipped."""
        for job in jobs:
            if job.asset in self.report.failed:
                continue
            try:
                await self.fill(job)
            except NoAnswer as exc:
                self.report.failed[job.asset] = str(exc)
        return self.report

    async def fill(self, job: Job) -> int:
        """Page one series back to its first candle, or to where the broker's history ends."""
        if self.offset is None:
            self.offset = await self._measure_offset(job.asset)
        held = await trio.to_thread.run_sync(collected_times, self.settings.data_dir, job.asset, job.period)
        plan = pager.windows(job.asset, job.period, job.first, job.newest, held)
        writer = CollectWriter(
            self.settings.data_dir, job.asset, job.period, self.session, self.settings.backfill_chunk_size
        )
        progress = Progress(time.monotonic(), len(plan))
        self._tell(job, progress)
        for window in plan:
            answer = await self.ask(window)
            batch = answer.batch
            rows = pager.page_rows(window, batch.candles, batch.ticks, answer.captured, held)
            await trio.to_thread.run_sync(writer.write, rows)
            held.update(c.time for c in rows)
            progress = progress.page(len(rows))
            self._tell(job, progress)
            if pager.history_ends(window, batch.candles, batch.ticks):
                break
        series = f"{job.asset}-{job.period}"
        self.report.written[series] = self.report.written.get(series, 0) + writer.rows_written
        return writer.rows_written

    def _tell(self, job: Job, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(job, progress)

    async def _measure_offset(self, asset: str) -> int:
        # The decoder publishes UTC by its own measure of the broker's clock; asking in the
        # broker's clock must use the same offset, or every page would be shifted.
        probe = pager.probe_window(asset, time.time())
        answer = await self.ask(probe, offset=pager.ASSUMED_OFFSET)
        newest = max((int(c[0]) for c in answer.batch.candles), default=None)
        return pager.measured_offset(probe, newest)

    async def ask(self, window: Window, offset: int | None = None) -> Answer:
        """Send the request for ``window`` and wait for its answer; retry with backoff, else :class:`NoAnswer`."""
        off = self.offset if offset is None else offset
        assert off is not None
        backoff = Backoff(initial=max(self.settings.bridge_pace, 0.25), cap=10.0)
        stream = self.keys.ticks(partition_of(window.asset, self.settings.partitions))
        for attempt in range(self.settings.backfill_retries + 1):
            if attempt:
                self.report.retries += 1
                await trio.sleep(backoff.next_delay())
            answer = await self._try_once(window, off, stream)
            if answer is not None:
                self.report.pages += 1
                return answer
        known = await trio.to_thread.run_sync(self.known_assets)
        raise NoAnswer(window.asset, known)

    async def _try_once(self, window: Window, off: int, stream: str) -> Answer | None:
        last = await trio.to_thread.run_sync(self._last_id, stream)
        self._sequence += 1
        index = pager.request_index(time.time(), self._sequence)
        try:
            await self.bridge.send(HISTORY_EVENT, pager.request_body(window, index, off))
        except BridgeError:
            return None  # the page is reconnecting or went away: counts as no answer, retried
        return await self._read_answer(stream, last, index, window.asset)

    def _last_id(self, stream: str) -> str:
        rows = cast(list[tuple[bytes, Any]], self.client.xrevrange(stream, count=1))
        return text(rows[0][0]) if rows else "0-0"

    async def _read_answer(self, stream: str, after: str, index: int, asset: str) -> Answer | None:
        deadline = trio.current_time() + self.settings.backfill_timeout
        while (left := deadline - trio.current_time()) > 0:
            block = int(max(1, min(left, READ_BLOCK) * 1000))
            reply = await trio.to_thread.run_sync(self._read, stream, after, block)
            for entry_id, fields in reply:
                after = text(entry_id)
                found = _answer_in(fields, index, asset, entry_id)
                if found is not None:
                    return found
        return None

    def _read(self, stream: str, after: str, block_ms: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        reply = cast(Any, self.client.xread({stream: after}, count=500, block=block_ms))
        return [e for _name, entries in reply or [] for e in entries]

    def known_assets(self) -> list[str]:
        """The assets of the broker's latest asset list ingest published, else those picked on the page."""
        events = latest_events(self.client, self.keys.events())
        for ev in events:
            if ev.type == "assets" and isinstance(ev.data.get("assets"), list):
                rows = ev.data["assets"]
                return sorted({a["asset"] for a in rows if isinstance(a, dict) and a.get("asset")})
        return picked_assets(events)

    def close(self) -> None:
        self.client.close()


def _answer_in(fields: dict[bytes, bytes], index: int, asset: str, entry_id: Any) -> Answer | None:
    try:
        rec = decode_fields(fields)
    except RecordError:
        return None
    if not isinstance(rec, HistoryBatch) or rec.asset != asset or str(rec.index) != str(index):
        return None
    # The entry's id is when ingest published the answer: no later than the broker could have
    # finished a candle that the answer holds.
    return Answer(rec, id_tuple(entry_id)[0] / 1000)


def bridge_settings(settings: BackfillSettings) -> BridgeSettings:
    """The page bridge's settings from the backfill's (one source for the shared ``QF_`` names)."""
    return BridgeSettings(
        chrome_url=settings.chrome_url,
        ws_url_pattern=settings.ws_url_pattern,
        bridge_pace=settings.bridge_pace,
        bridge_timeout=settings.bridge_timeout,
    )


async def backfill(
    settings: BackfillSettings, jobs: Sequence[Job], on_progress: ProgressHook | None = None
) -> Report:
    """Open the page bridge and fill ``jobs`` in order; raises :class:`BridgeError` without a page."""
    async with PageBridge(bridge_settings(settings)) as bridge:
        worker = Backfill(settings, bridge, on_progress)
        try:
            return await worker.run(jobs)
        finally:
            worker.close()


def latest_events(client: redis.Redis, key: str) -> list[Event]:
    """The newest events on ``qf:events``, newest first (entries that are not events skipped)."""
    rows = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(key, count=EVENTS_LOOKED_AT))
    out = []
    for _id, fields in rows:
        try:
            rec = decode_fields(fields)
        except RecordError:
            continue
        if isinstance(rec, Event):
            out.append(rec)
    return out


def picked_assets(events: Sequence[Event]) -> list[str]:
    """The assets the trader picked on the page (``platform_state``), newest first, once each."""
    picked = [
        e.data["asset"] for e in events if e.type == "platform_state" and isinstance(e.data.get("asset"), str)
    ]
    return list(dict.fromkeys(picked))


def favourite_assets(settings: BackfillSettings) -> list[str]:
    """The trader's favourites as ingest saw the page load them (a ``favorites`` event), else the
    assets picked on the page, newest first."""
    client = connect_sync(settings)
    try:
        events = latest_events(client, Keys(settings.prefix).events())
    finally:
        client.close()
    for ev in events:
        listed = ev.data.get("assets")
        if ev.type == "favorites" and isinstance(listed, list):
            return [a for a in dict.fromkeys(listed) if isinstance(a, str) and a]
    return picked_assets(events)
