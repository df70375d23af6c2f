"""The persistence service's loop: stream entries → rows on disk → the group moved past them.

A plain blocking loop on the sync Redis client (DESIGN §3); a child process (``reader.py``) reads
and decodes ahead while this one formats, writes and commits. The consumer group ``persistence``
on every tick partition, bar stream, ``qf:payouts`` and ``qf:orders`` marks how far the files go: its position is moved past
entries (XGROUP SETID) only once their rows are committed (see ``store.py``), so its lag is what
still waits to be written and trimming never drops it. Reading resumes from the commit record, so
a crash, a full disk or a vanished folder never loses or repeats a row. The data folder's lock
makes sure only one process writes a folder.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from redis.exceptions import ResponseError

from quantumflux.bus.backoff import Backoff
from quantumflux.bus.connection import RETRIABLE, connect_sync
from quantumflux.bus.groups import ConsumerGroup
from quantumflux.bus.health import Heartbeat
from quantumflux.bus.ids import id_tuple, text
from quantumflux.bus.keys import Keys
from quantumflux.bus.service import ServiceShell
from quantumflux.bus.timeframes import parse_timeframes
from quantumflux.files.layout import TF_SECONDS, safe_name, session_label
from quantumflux.files.rows import RowFormatter, SeriesKey, plan
from quantumflux.persistence.chunk import Chunk
from quantumflux.persistence.config import PersistenceSettings
from quantumflux.persistence.reader import Reader, ReaderGone
from quantumflux.persistence.store import DiskError, LockedError, Store
from quantumflux.persistence.writer import lines_of

# Moves the group to ARGV[2] with its count of entries read: the count kept so far plus this
# batch's, or, when unknown, counted here from the entries after that id (up to 100 000).
MOVE_GROUP = """
local read
local known = tonumber(ARGV[4])
if known >= 0 then
  read = known + tonumber(ARGV[3])
else
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  local added
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  local after = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', 100000)
  if added and #after < 100000 then read = added - #after end
end
if read then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2], 'ENTRIESREAD', read)
  return read
end
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2])
return -1
"""

SERVICE = "persistence"
GROUP = "persistence"
# The group helper wants a consumer name; entries are read with XREAD, so none is ever pending.
CONSUMER = "persistence"
log = logging.getLogger("qf.persistence")


class Worker(ServiceShell):
    """One persistence service process."""

    settings: PersistenceSettings

    def __init__(self, settings: PersistenceSettings) -> None:
        super().__init__(SERVICE, log)
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.client = connect_sync(settings)
        self.store = Store(settings.data_dir)
        self.group = ConsumerGroup(self.client, GROUP, CONSUMER, [], start_id="0")
        self.fmt = RowFormatter()
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        # Where reading stands in each stream (the last id written or passed over), and how many
        # entries the group has read there when known (Redis 7 keeps its lag from that).
        self.positions: dict[str, str] = {}
        self.entries_read: dict[str, int | None] = {}
        self._entries_read_ok: bool | None = None  # known once Redis has been asked
        self._move_script = self.client.register_script(MOVE_GROUP)
        self.reader: Reader | None = None
        self.chunk_size = {
            "ticks": settings.tick_chunk,
            "candles": settings.candle_chunk,
            "payouts": settings.payout_chunk,
            "orders": settings.order_chunk,
        }
        self._names: dict[str, str] = {}
        self._next_discovery = 0.0
        self._ignored_tfs: set[int] = set()
        self._next_lag = 0.0
        self._behind = False

    # -- reporting -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counters for the heartbeat."""
        counts: dict[str, Any] = {}
        errors: dict[str, int] = {}
        for _ in range(5):  # the loop may add a counter while this thread copies them
            try:
                counts, errors = dict(self.counts), dict(self.errors)
                break
            except RuntimeError:
                continue
        counts.update(
            state=self._state,
            collect=self.settings.persist,
            session=self.store.committed.session if self.store.committed else None,
            streams=len(self.group.streams),
            malformed=errors,
            problem=self._last_problem,
        )
        return counts

    def check_lag(self) -> None:
        """Every few seconds, count the entries still waiting and say so when they pile up."""
        now = time.monotonic()
        if now < self._next_lag:
            return
        self._next_lag = now + self.settings.discover_interval
        total = 0
        for key in list(self.group.streams):
            for g in self.client.xinfo_groups(key):
                name = g.get("name")
                if name in (GROUP, GROUP.encode()) and isinstance(g.get("lag"), int):
                    total += g["lag"]  # (Redis before 7 does not tell; then this stays 0)
        grew = total > self.counts["lag"]
        self.counts["lag"] = total
        warn = self.settings.lag_warning
        if not self._behind and total > warn and grew:
            self._behind = True
            self.report("degraded", f"falling behind: {total} entries wait to be written", problem="lag")
        elif self._behind and total < warn // 2:
            self._behind = False
            self.report("recovered", "caught up with the streams")

    # -- streams ---------------------------------------------------------------------------

    def wanted_streams(self) -> list[str]:
        """Tick partitions, bar streams, payout and order changes this service reads, as configured and as found."""
        s = self.settings
        out: list[str] = []
        if s.collect_payouts:
            out.append(self.keys.payouts())
        if s.collect_orders:
            out.append(self.keys.orders())
        if s.collect_ticks:
            out += self.keys.all_ticks(s.partitions)
        if s.collect_candles:
            tfs = set(parse_timeframes(s.timeframes.replace(" ", ","))) if s.timeframes else set()
            pattern = self.keys.bars(0)[:-1] + "*"
            for raw in self.client.scan_iter(match=pattern, count=1000, _type="stream"):
                tail = (raw.decode() if isinstance(raw, bytes) else raw).rsplit(":", 1)[-1]
                if tail.isdigit() and int(tail) > 0:
                    tfs.add(int(tail))
            odd = tfs - set(TF_SECONDS) - self._ignored_tfs
            if odd:
                # The file layout has folders for 1s 5s 10s 15s 30s 1m 5m 15m 1h 4h 1d only.
                self._ignored_tfs |= odd
                log.warning("not writing bars of %s: no folder for them in the file layout", sorted(odd))
            out += [self.keys.bars(tf) for tf in sorted(tfs & set(TF_SECONDS))]
        return out

    def discover(self, force: bool = False) -> None:
        """Join the group on streams that appeared since the last look."""
        now = time.monotonic()
        if not force and now < self._next_discovery:
            return
        self._next_discovery = now + self.settings.discover_interval
        new = [k for k in self.wanted_streams() if k not in self.group.streams]
        if new:
            self.group.ensure(new)
            self.group.streams.extend(new)
            found = self.start_positions(new)
            self.positions.update(found)
            if self.reader is not None:
                self.reader.add(found)
            log.info("reading %s", ", ".join(new))

    # -- where to read from ------------------------------------------------------------------

    def start_positions(self, keys: list[str]) -> dict[str, str]:
        """Where reading starts in each stream: after the last entry on disk, else the group's position."""
        assert self.store.committed is not None
        committed = self.store.committed.streams
        out: dict[str, str] = {}
        for key in keys:
            info = _our_group(self.client, key)
            last = text(info.get("last-delivered-id", "0-0")) if info else "0-0"
            if info and int(info.get("pending") or 0):
                # Left by a version that acknowledged entry by entry: read again from the oldest.
                oldest = text(self.client.xpending(key, GROUP)["min"])
                self._forget_pending(key)
                if id_tuple(oldest) <= id_tuple(last):
                    last = _before(oldest)
                    info = {}
            start = committed.get(key, last)
            known = info.get("entries-read") if info else None
            if start != last and info:
                # On disk already (a stop between writing and moving the group): say so at once.
                self.entries_read[key] = _count(self._move_group(self.client, key, start, 0, None))
            else:
                self.entries_read[key] = _count(known)
            out[key] = start
        return out

    def _forget_pending(self, key: str) -> None:
        while True:
            rows = self.client.xpending_range(key, GROUP, min="-", max="+", count=10_000)
            if not rows:
                return
            self.client.xack(key, GROUP, *[r["message_id"] for r in rows])

    # -- one batch -------------------------------------------------------------------------

    def _stored(self, asset: str) -> str:
        name = self._names.get(asset)
        if name is None:
            name = self._names[asset] = safe_name(asset)
        return name

    def write(self, by_series: dict[SeriesKey, list[str]], last: dict[str, str]) -> bool:
        """Commit the rows of a batch, retrying while the disk refuses; False if asked to stop."""
        appends, moved = plan(self.store.positions(), by_series, self.chunk_size)
        backoff = Backoff(initial=0.2, cap=5.0)
        failing = False
        while True:
            try:
                created = self.store.commit(appends, moved, last)
                break
            except DiskError as exc:
                msg = f"can't write to {exc.path}: {exc.reason}; the data waits in Redis and nothing is lost"
                if not failing or msg != self._last_problem:
                    self._last_problem = msg
                    self.report("degraded", msg, problem="disk")
                failing = True
                self.counts["write_errors"] += 1
                if self._sleep(backoff.next_delay()):
                    return False
                try:
                    self.store.recover()
                except DiskError:
                    continue
        if failing:
            self._last_problem = ""
            self.report("recovered", "writing files again")
        self.counts["files_created"] += created
        self.counts["batches"] += 1
        return True

    def handle(self, chunks: list[Chunk]) -> bool:
        """Write one batch, then move the group past it; False when stopping left it unwritten."""
        if not chunks:
            return True
        by_series, tick_rows, candle_rows = lines_of(chunks, self.fmt, self._stored)
        last: dict[str, tuple[str, int]] = {}
        for c in chunks:
            seen = last.get(c.stream)
            last[c.stream] = (c.last_id, c.entries + (seen[1] if seen else 0))
            if c.errors:
                self.errors.update(c.errors)
            self.counts["history_batches"] += c.history
            self.counts["payout_rows"] += len(c.payouts)
            self.counts["order_rows"] += len(c.orders)
        if by_series and not self.write(by_series, {k: v[0] for k, v in last.items()}):
            return False
        self.advance(last)
        self.counts["tick_rows"] += tick_rows
        self.counts["candle_rows"] += candle_rows
        self.counts["entries"] += sum(n for _, n in last.values())
        return True

    def advance(self, last: dict[str, tuple[str, int]]) -> None:
        """Move the group past entries now on disk (what acknowledging means here)."""
        pipe = self.client.pipeline(transaction=False)
        for key, (eid, n) in last.items():
            self.positions[key] = eid
            self._move_group(pipe, key, eid, n, self.entries_read.get(key))
        for key, result in zip(last, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(result, ResponseError):
                # The group was removed meanwhile: make it again at what is on disk.
                self.group.ensure([key])
                result = self._move_group(self.client, key, last[key][0], 0, None)
            self.entries_read[key] = _count(result)

    def _move_group(self, target: Any, key: str, eid: str, n: int, known: int | None) -> Any:
        """XGROUP SETID, keeping Redis 7's count of entries read so the group's lag stays exact."""
        if self._entries_read_ok is None:
            self._entries_read_ok = _supports_entries_read(self.client)
        if not self._entries_read_ok:
            return target.execute_command("XGROUP", "SETID", key, GROUP, eid)
        return self._move_script(
            keys=[key], args=[GROUP, eid, n, -1 if known is None else known], client=target
        )

    def _sleep(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while not self._stop and time.monotonic() < end:
            time.sleep(min(0.1, end - time.monotonic()))
        return self._stop

    # -- the loop --------------------------------------------------------------------------

    def open_store(self) -> bool:
        """Repair and open the data folder, retrying while it cannot be written."""
        backoff = Backoff(initial=0.2, cap=5.0)
        while not self._stop:
            try:
                self.store.open(time.time(), session_label)
                return True
            except (DiskError, OSError) as exc:
                msg = f"can't write to {self.settings.data_dir}: {getattr(exc, 'reason', exc)}"
                if msg != self._last_problem:
                    self._last_problem = msg
                    self.report("degraded", msg, problem="disk")
                self._sleep(backoff.next_delay())
        return False

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        self.handle_stop_signals()
        try:
            self.store.lock()
        except LockedError as exc:
            log.error("%s", exc)
            return 2
        except OSError as exc:
            log.error("can't use the data folder %s: %s", self.settings.data_dir, exc)
            return 2
        if not self.connect():
            return 0
        self.report("starting", f"writing {self.settings.persist} to {self.settings.data_dir}")
        heartbeat = Heartbeat(self.settings, SERVICE, info=self.info).start()
        try:
            if not self.open_store():
                return 0
            self.serve()
        finally:
            heartbeat.stop()
            self.report("stopped", "stopped")
            self.store.unlock()
        return 0

    def serve(self) -> None:
        """The loop: read (in the child process), write, move the group; until :meth:`stop`."""
        announced = False
        restarts = Backoff(initial=0.2, cap=5.0)
        while not self._stop:
            try:
                self._entries_read_ok = None  # Redis may have been restarted, or replaced
                self.group.streams = []
                self.positions = {}
                self.discover(force=True)
                count = max(1, min(5000, self.settings.persist_batch))
                with Reader(self.settings, self.positions, count) as reader:
                    self.reader = reader
                    if not announced or self._state == "degraded":
                        self._announce(announced)
                        announced = True
                    while not self._stop:
                        chunks = reader.take(self.settings.persist_batch, 0.5)
                        if not self.handle(chunks):
                            return
                        restarts.reset()
                        self.check_lag()
                        self.discover()
            except RETRIABLE as exc:
                self.counts["redis_errors"] += 1
                self._state = "degraded"
                log.warning("Redis connection lost (%s); waiting for it", exc)
                if not self.connect():
                    return
                self.report("recovered", "Redis answers again")
            except ReaderGone as exc:
                if self._stop:
                    return
                self.counts["reader_restarts"] += 1
                log.warning("reading stopped (%s); starting again from what is on disk", exc)
                if not self.connect():
                    return
                if self._sleep(restarts.next_delay()):
                    return
            finally:
                self.reader = None

    def _announce(self, announced: bool) -> None:
        self.report("recovered" if announced else "running", "writing files")
        self._last_problem = ""


def _our_group(client: Any, key: str) -> dict[str, Any]:
    """XINFO GROUPS of ``key`` for the ``persistence`` group, keys as text ({} if none)."""
    try:
        rows = client.xinfo_groups(key)
    except ResponseError:
        return {}
    for row in rows:
        info = {text(k): v for k, v in row.items()}
        if text(info.get("name", "")) == GROUP:
            return info
    return {}


def _count(result: Any) -> int | None:
    """The count of entries read that MOVE_GROUP answered, or None when it is not known."""
    return result if type(result) is int and result >= 0 else None


def _before(eid: str) -> str:
    """The id just before ``eid`` (reading "after" it then starts at ``eid``)."""
    ms, seq = id_tuple(eid)
    return f"{ms}-{seq - 1}" if seq else f"{ms - 1}-18446744073709551615" if ms else "0-0"


def _supports_entries_read(client: Any) -> bool:
    """Redis 7 and later keep a group's read count (XGROUP SETID … ENTRIESREAD)."""
    try:
        version = text(client.info("server").get("redis_version", "0"))
        return int(version.split(".")[0]) >= 7
    except (ResponseError, ValueError):
        return False


def main(settings: PersistenceSettings) -> int:
    """Run the persistence service with these settings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s persistence %(levelname)s %(message)s")
    return Worker(settings).run()
