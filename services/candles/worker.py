"""The candle worker: reads the tick partitions it leases, folds them, writes candles exactly once.

For each owned partition the worker keeps an :class:`~quantumflux.candles.aggregator.Aggregator` and
the id of the last tick entry applied to it. A batch is read from just after that id, folded, and
its outputs (candle changes, closed bars, series) are written by one Lua script together with the
new state and id, and only if this worker still holds the partition's lease. Either all of it
happens or none of it does, so after a crash the next owner continues from the checkpoint with no
bar lost or written twice (docs/candles.md has the whole argument).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgpack
from redis.exceptions import ResponseError

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.connection import RETRIABLE, connect_sync
from quantumflux.bus.health import read_heartbeats
from quantumflux.bus.ids import text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, CaptureMark, pack, tick_runs
from quantumflux.bus.service import ServiceShell
from quantumflux.bus.streams import trim
from quantumflux.bus.timeframes import label
from quantumflux.candles.aggregator import Aggregator, CandleRow, Changes, Gap, Rules
from quantumflux.candles.config import CandlesSettings
from quantumflux.candles.leases import Leases

SERVICE = "candles"
GROUP = "candles"
log = logging.getLogger("qf.candles")

# Writes one batch's outputs with the checkpoint, only while the lease is ours (all or nothing).
# An output that fails (a key of the wrong type someone made) is counted and the rest goes on: a
# script stopped half-way would keep its first writes without the checkpoint, and the retry would
# write them twice.
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0, 0} end
local failed = 0
local i = 6
local n = #ARGV
while i <= n do
  local k = tonumber(ARGV[i])
  local r = redis.pcall(unpack(ARGV, i + 1, i + k))
  if type(r) == 'table' and r.err then failed = failed + 1 end
  i = i + k + 1
end
redis.call('SET', KEYS[2], ARGV[2])
redis.pcall('XGROUP', 'SETID', ARGV[3], ARGV[4], ARGV[5])
return {1, failed}
"""

GAP_REPORT_EVERY = 10.0
COALESCE_S = 0.05
TRIM_EVERY = 30.0
# After Redis comes back, the capture service still holds the ticks of the outage in memory and
# sends them in a burst. Until it has (its heartbeats show nothing buffered), the wall clock must
# not close candles those ticks belong to. The hold lasts at least two heartbeats, at most this.
OUTAGE_HOLD_MAX_S = 30.0
BARS_KEEP_MIN = 10_000


@dataclass
class Partition:
    """One owned tick partition: its aggregator and the last entry applied."""

    number: int
    stream: str
    last_id: str
    agg: Aggregator


def rules_of(settings: CandlesSettings) -> Rules:
    """The aggregator rules a settings object asks for."""
    return Rules(
        timeframes=settings.timeframe_seconds,
        grace=settings.close_grace,
        broker_day_offset=settings.broker_day_offset,
        live=not settings.candles_replay,
    )


class CandleWorker(ServiceShell):
    """The blocking loop of one ``qf candles`` process.

    ``stop`` is an event that ends the loop when set (SIGTERM and SIGINT set it too).
    """

    settings: CandlesSettings

    def __init__(self, settings: CandlesSettings, stop: threading.Event | None = None) -> None:
        super().__init__(SERVICE, log, stop)
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.rules = rules_of(settings)
        self.client = connect_sync(settings)
        # Entries come back as raw [id, [field, value, …]] lists: building a dict per entry
        # costs a fifth of the worker's time, and only the field d is ever read.
        self.client.set_response_callback("XREAD", lambda r, **_kw: r)
        self.parts: dict[int, Partition] = {}
        self.leases = Leases(
            self.client, self.keys, settings.instance, settings.partitions, settings.candles_lease
        )
        self._commit = self.client.register_script(_COMMIT)
        self.totals: Counter[str] = Counter()
        self._gaps: list[Gap] = []  # samples for the next gap report
        self._gap_count = 0
        self._gap_missing = 0
        self._last_gap_report = -GAP_REPORT_EVERY  # the first gaps are reported at once
        self._last_trim = 0.0
        self._error_backoff = Backoff(initial=0.5, cap=settings.redis_retry_max)
        # Wall-clock closing is held after an outage until capture has flushed (monotonic times).
        self._hold_from = 0.0
        self._hold_until = 0.0
        self._next_hold_check = 0.0
        self.exit_code = 0

    # ---- info --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counters for the heartbeat (and the timeframes, so a gateway knows which exist)."""
        out: dict[str, Any] = {
            "timeframes": list(self.rules.timeframes),
            "mode": "live" if self.rules.live else "replay",
        }
        try:  # read from the heartbeat thread while the loop runs: a torn read just waits a beat
            parts = list(self.parts.values())
            out["partitions"] = sorted(p.number for p in parts)
            out["late"] = sum(p.agg.late for p in parts)
            out.update(dict(self.totals))
        except RuntimeError:
            pass
        return out

    # ---- partitions --------------------------------------------------------------------------

    def _checkpoint_key(self, p: int) -> str:
        return self.keys.private("candles", "state", p)

    def _load(self, p: int) -> Partition:
        stream = self.keys.ticks(p)
        raw = self.client.get(self._checkpoint_key(p))
        last_id, snap = "0-0", None
        if raw:
            cp = msgpack.unpackb(raw, raw=False, strict_map_key=False)
            last_id, snap = str(cp["last_id"]), cp.get("state")
        try:  # the group shows the candle service's position to `qf status` and to trimming
            self.client.xgroup_create(stream, GROUP, id=last_id, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        return Partition(p, stream, last_id, Aggregator.restore(snap, self.rules, now=time.time()))

    def _lease_round(self) -> None:
        gained, lost = self.leases.round()
        for p in lost:
            self.parts.pop(p, None)
        for p in gained:
            self.parts[p] = self._load(p)
        if gained or lost:
            log.info("partitions now %s (took %s, gave up %s)", sorted(self.parts), gained, lost)
        if self.leases.fenced:
            # Two live processes under one name: the newer one builds the candles, this one ends.
            self.report(
                "degraded",
                f"another candle worker now runs as {self.settings.instance!r}; this one stops",
                problem="fenced",
            )
            self.exit_code = 1
            self.stop()

    # ---- one batch ---------------------------------------------------------------------------

    def _fold(self, part: Partition, rows: list[Any], now: float) -> None:
        agg = part.agg
        for run in tick_runs(rows, self.totals):
            if isinstance(run, list):
                agg.apply_ticks(run, now)
            elif isinstance(run, CaptureMark):
                agg.apply_capture(run.state, run.ts)
            else:
                agg.apply_history(run.asset, run.period, run.candles, run.ticks, now)

    def _commands(self, changes: Changes) -> list[Any]:
        cmds: list[Any] = []
        cap = str(self.settings.candles_stream_cap)
        keep = self.settings.series_length
        series_seen: set[str] = set()

        def packed(row: CandleRow) -> bytes:
            return pack(Candle(*row))

        for row in changes.closed:
            asset, tf, t = row[0], row[1], row[2]
            d = packed(row)
            series = self.keys.series(asset, tf)
            cmds += [5, "XADD", self.keys.bars(tf), "*", "d", d]
            cmds += [8, "XADD", self.keys.candles(tf), "MAXLEN", "~", cap, "*", "d", d]
            cmds += [4, "ZADD", series, t, d]
            series_seen.add(series)
        for row in changes.forming:
            cmds += [8, "XADD", self.keys.candles(row[1]), "MAXLEN", "~", cap, "*", "d", packed(row)]
        for series in series_seen:
            cmds += [4, "ZREMRANGEBYRANK", series, 0, -(keep + 1)]
        return cmds

    def _commit_all(self, work: list[tuple[Partition, str, Changes]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for part, last_id, changes in work:
            cp = msgpack.packb({"v": 1, "last_id": last_id, "state": part.agg.snapshot()}, use_bin_type=True)
            args = [self.leases.token, cp, part.stream, GROUP, last_id, *self._commands(changes)]
            self._commit(
                keys=[self.leases.key(part.number), self._checkpoint_key(part.number)], args=args, client=pipe
            )
        for (part, last_id, changes), (ok, failed) in zip(work, pipe.execute(), strict=True):
            if int(failed):
                self.totals["write_errors"] += int(failed)
                log.warning(
                    "partition %s: %s writes refused by Redis (a key of the wrong type?)", part.number, failed
                )
            if int(ok):
                part.last_id = last_id
                self.totals["bars"] += len(changes.closed)
                if changes.gaps:
                    self._gap_count += len(changes.gaps)
                    self._gap_missing += sum(g.missing for g in changes.gaps)
                    self._gaps.extend(changes.gaps[: max(0, 20 - len(self._gaps))])
            else:  # someone else holds the lease now: our unsaved work is theirs to redo
                log.warning("lost partition %s to another worker", part.number)
                self.parts.pop(part.number, None)
                self.leases.owned.discard(part.number)

    def step(self, block_ms: int) -> None:
        """Read one batch from every owned partition, fold it, and commit it."""
        parts = list(self.parts.values())
        batch = self.settings.candles_batch
        resp: Any = self.client.execute_command(  # type: ignore[no-untyped-call]
            "XREAD",
            "COUNT",
            batch,
            "BLOCK",
            block_ms if self._wall_clock_held() else self._wait_ms(parts, block_ms),
            "STREAMS",
            *[p.stream for p in parts],
            *[p.last_id for p in parts],
        )
        got: dict[str, list[Any]] = {}
        items = resp.items() if isinstance(resp, dict) else (resp or [])  # RESP3 map or RESP2 list
        for stream, rows in items:
            got[text(stream)] = rows
        now = time.time()
        wall_clock_held = self._wall_clock_held()
        work = []
        for part in parts:
            rows = got.get(part.stream, [])
            if rows:
                self._fold(part, rows, now)
            if len(rows) < batch and not wall_clock_held:
                # Caught up: the wall clock may close quiet assets' candles.
                part.agg.advance(now)
            changes = part.agg.take_changes()
            self._merge_counts(part.agg)
            if rows or changes.closed or changes.forming:
                last = rows[-1][0] if rows else part.last_id
                work.append((part, text(last), changes))
                self.totals["entries"] += len(rows)
        if work:
            self._commit_all(work)
            if all(len(got.get(p.stream, [])) < batch for p in parts):
                # Caught up on a live feed: let a few ticks gather, so one checkpoint covers
                # many ticks rather than one each (a candle update is at most this much later).
                self.pause(COALESCE_S)

    @staticmethod
    def _wait_ms(parts: list[Partition], block_ms: int) -> int:
        """How long to wait for entries: at most ``block_ms``, and no later than the next candle
        due to close on time, so quiet candles close when their grace ends, not up to a read later."""
        due = [t for p in parts if (t := p.agg.next_close()) is not None]
        if not due:
            return block_ms
        # XREAD's BLOCK 0 waits forever: never below 1 ms.
        return max(1, min(block_ms, math.ceil((min(due) - time.time()) * 1000)))

    def _wall_clock_held(self) -> bool:
        """True while, after an outage, capture may still hold ticks of that time unsent."""
        mono = time.monotonic()
        if mono >= self._hold_until:
            return False
        if mono < self._next_hold_check:
            return True
        self._next_hold_check = mono + 0.5
        if mono - self._hold_from < 2 * self.settings.heartbeat_interval + 0.5:
            return True  # ingest's first heartbeat after the outage may not be there yet
        ingest = [h for h in read_heartbeats(self.client, self.keys) if h.get("service") == "ingest"]
        if any(h.get("buffered") or h.get("redis_up") is False for h in ingest):
            return True
        self._hold_until = 0.0
        log.info("capture has sent what it held during the outage; closing candles on time again")
        return False

    def _merge_counts(self, agg: Aggregator) -> None:
        if agg.counts:
            self.totals.update(agg.counts)
            agg.counts.clear()
        if agg.bad:
            self.totals.update({f"bad_{k}" if not k.startswith("bad") else k: n for k, n in agg.bad.items()})
            agg.bad.clear()

    # ---- upkeep ------------------------------------------------------------------------------

    def _report_gaps(self) -> None:
        # One event for all gaps of the last 10 s or more: a flaky feed must not flood the events.
        if not self._gap_count or time.monotonic() - self._last_gap_report < GAP_REPORT_EVERY:
            return
        count, missing, gaps = self._gap_count, self._gap_missing, self._gaps
        self._gap_count, self._gap_missing, self._gaps = 0, 0, []
        self._last_gap_report = time.monotonic()
        samples = [[g.asset, label(g.tf), g.after, g.before, g.missing] for g in gaps]
        self.report(
            "running",
            f"{count} gaps ({missing} intervals without ticks) since the last report",
            report="gaps",
            gaps=count,
            missing=missing,
            samples=samples,
        )

    def _trim(self) -> None:
        if time.monotonic() - self._last_trim < TRIM_EVERY:
            return
        self._last_trim = time.monotonic()
        for tf in self.rules.timeframes:
            res = trim(self.client, self.keys.bars(tf), self.settings.bars_cap, BARS_KEEP_MIN)
            if res.capped:
                msg = (
                    f"bars {label(tf)}: dropped {res.capped} closed candles no reader had taken (stream full)"
                )
                self.report("degraded", msg)

    # ---- loop --------------------------------------------------------------------------------

    def _start_over(self) -> None:
        # What we hold in memory may be ahead of the checkpoints: start again from them.
        self.parts.clear()
        self.leases.forget()

    def _on_redis_down(self, exc: Exception) -> None:
        self._start_over()
        if self.ride_out_outage(exc, "Redis is back; candles continue from the saved state"):
            self._hold_from = time.monotonic()
            self._hold_until = self._hold_from + OUTAGE_HOLD_MAX_S

    def _on_surprise(self, exc: Exception) -> None:
        # Never die on one odd answer: start again from the checkpoints, a little later each time.
        log.exception("unexpected error; starting again from the saved state")
        self.report("degraded", f"unexpected error: {exc}; starting again from the saved state")
        self._start_over()
        self.pause(self._error_backoff.next_delay())

    def _turn(self, block_ms: int) -> None:
        """One pass of the loop: read, fold and commit a batch, then the upkeep."""
        if not self.parts:
            self.pause(block_ms / 1000)
            return
        self.step(block_ms)
        self._report_gaps()
        self._trim()

    def run(self) -> int:
        """Run until asked to stop (SIGTERM, SIGINT or the ``stop`` event); returns the exit code."""
        self.handle_stop_signals()
        if not self.connect():
            return 0
        self.report("starting", f"candle worker starting ({self.settings.timeframes})")
        self.start_heartbeat(self.info)
        self.report("running", "building candles")
        lease_every = self.settings.candles_lease / 3
        block_ms = int(min(500, lease_every * 1000 / 2))
        next_lease = 0.0
        while not self._stop:
            try:
                if time.monotonic() >= next_lease:
                    self._lease_round()
                    next_lease = time.monotonic() + lease_every
                self._turn(block_ms)
            except RETRIABLE as exc:
                self._on_redis_down(exc)
                next_lease = 0.0
            except Exception as exc:
                self._on_surprise(exc)
                next_lease = 0.0
            else:
                self._error_backoff.reset()
        self._shutdown()
        return self.exit_code

    def _shutdown(self) -> None:
        try:
            self.leases.release_all()
        except RETRIABLE:
            pass
        self.stop_heartbeat()
        self.report("stopped", "candle worker stopped")


def main(settings: CandlesSettings) -> int:
    """Run one candle worker until SIGTERM or SIGINT; returns its exit code."""
    return CandleWorker(settings).run()
