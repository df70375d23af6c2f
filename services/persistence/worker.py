"""The persistence service's loop: stream entries → rows on disk → acknowledgements.

A plain blocking loop on the sync Redis client (DESIGN §3). One consumer, ``persistence``, in the
group ``persistence`` on every tick partition and every bar stream; the data folder's lock makes
sure only one process writes a folder. Entries are acknowledged only once their rows are committed
(see ``store.py``), so a crash, a full disk or a vanished folder never loses or repeats a row.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from typing import Any

import msgpack
from redis.exceptions import ResponseError

from services.bus.backoff import Backoff
from services.bus.connection import RETRIABLE, connect_sync
from services.bus.groups import ConsumerGroup
from services.bus.health import Heartbeat
from services.bus.keys import Keys
from services.bus.records import KNOWN_VERSIONS, Candle, HistoryBatch, RecordError, Tick, decode
from services.bus.service import ServiceShell
from services.bus.timeframes import parse_timeframes
from services.persistence.config import PersistenceSettings
from services.persistence.layout import TF_SECONDS, safe_name, session_label
from services.persistence.store import DiskError, LockedError, Store, id_tuple
from services.persistence.writer import RowFormatter, SeriesKey, plan

SERVICE = "persistence"
GROUP = "persistence"
# One fixed consumer name: after a restart the service finds its own pending entries again.
CONSUMER = "persistence"
log = logging.getLogger("qf.persistence")

# A stream entry as read here: stream key, entry id, its ``d`` field (None if the entry is gone).
Raw = tuple[str, bytes, bytes | None]
_NUMBER = (float, int)


def _raw_reply(response: Any, **_: Any) -> Any:
    return response


def _parse(resp: Any) -> list[Raw]:
    """Entries of a raw XREADGROUP reply (a list of pairs in RESP2, a map in RESP3)."""
    out: list[Raw] = []
    if not resp:
        return out
    for stream, rows in resp.items() if isinstance(resp, dict) else resp:
        key = stream.decode() if isinstance(stream, bytes) else str(stream)
        for eid, fields in rows:
            if not fields:
                out.append((key, eid, None))
            elif len(fields) == 2 and fields[0] == b"d":
                out.append((key, eid, fields[1]))
            else:
                out.append((key, eid, dict(zip(fields[::2], fields[1::2], strict=False)).get(b"d")))
    return out


class Worker(ServiceShell):
    """One persistence service process."""

    settings: PersistenceSettings

    def __init__(self, settings: PersistenceSettings) -> None:
        super().__init__(SERVICE, log)
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.client = connect_sync(settings)
        # Entries are parsed here from Redis's own reply: the generic parser costs more than the
        # rest of the path together (see bench/persistence.py).
        self.client.set_response_callback("XREADGROUP", _raw_reply)
        self.store = Store(settings.data_dir)
        self.group = ConsumerGroup(self.client, GROUP, CONSUMER, [], start_id="0")
        self.fmt = RowFormatter()
        self.counts: Counter[str] = Counter()
        self.chunk_size = {"ticks": settings.tick_chunk, "candles": settings.candle_chunk}
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
                counts, errors = dict(self.counts), dict(self.group.errors)
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
        """Tick partitions and bar streams this service reads, as configured and as found."""
        s = self.settings
        out: list[str] = []
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
            log.info("reading %s", ", ".join(new))

    # -- one batch -------------------------------------------------------------------------

    def _stored(self, asset: str) -> str:
        name = self._names.get(asset)
        if name is None:
            name = self._names[asset] = safe_name(asset)
        return name

    def rows_of(self, entries: list[Raw]) -> tuple[list[tuple[SeriesKey, str]], dict[str, str]]:
        """CSV lines of the entries not yet on disk, and the last such id per stream."""
        committed = self.store.committed
        assert committed is not None
        done = {k: id_tuple(v) for k, v in committed.streams.items()}
        rows: list[tuple[SeriesKey, str]] = []
        append = rows.append
        last: dict[str, bytes] = {}
        ticks, candles = self.settings.collect_ticks, self.settings.collect_candles
        errors = self.group.errors
        fmt_tick = self.fmt.tick
        names = self._names
        unpackb = msgpack.unpackb
        isfinite = math.isfinite
        for stream, eid, raw in entries:
            if done:
                seen = done.get(stream)
                if seen is not None:
                    if id_tuple(eid.decode()) <= seen:
                        self.counts["skipped_already_on_disk"] += 1
                        continue
                    del done[stream]  # ids only grow within a stream: no need to look again
            last[stream] = eid
            if raw is None:
                errors["entry_gone"] += 1
                continue
            # Fast path for the common case, a well-formed tick; anything else takes the full decoder.
            obj: Any
            try:
                obj = unpackb(raw, raw=False, strict_map_key=False)
            except Exception:
                obj = None
            if type(obj) is dict and obj.get("kind") == "tick" and obj.get("v") in KNOWN_VERSIONS:
                asset: Any = obj.get("asset")
                ts: Any = obj.get("ts")
                price: Any = obj.get("price")
                if (
                    type(asset) is str
                    and asset
                    and type(ts) in _NUMBER
                    and type(price) in _NUMBER
                    and isfinite(ts)
                    and isfinite(price)
                ):
                    if ticks:
                        name = names.get(asset) or self._stored(asset)
                        append((("ticks", name, None), fmt_tick(ts, price)))
                    continue
            try:
                rec = decode(raw)
            except RecordError as exc:
                errors[exc.kind] += 1
                continue
            if isinstance(rec, Tick):
                if ticks:
                    append((("ticks", self._stored(rec.asset), None), fmt_tick(rec.ts, rec.price)))
            elif isinstance(rec, Candle):
                if rec.tf not in TF_SECONDS:
                    errors["timeframe_not_in_layout"] += 1
                elif rec.closed and candles:
                    append((("candles", self._stored(rec.asset), rec.tf), self.fmt.candle(rec)))
                elif not rec.closed:
                    errors["not_closed"] += 1
            elif isinstance(rec, HistoryBatch):
                self.counts["history_batches"] += 1  # reaches disk as candles, via the candle service
            else:
                errors["unexpected_record"] += 1
        return rows, {k: v.decode() for k, v in last.items()}

    def write(self, entries: list[Raw]) -> bool:
        """Commit the rows of a batch, retrying while the disk refuses; False if asked to stop."""
        rows, last = self.rows_of(entries)
        if not rows:
            return True
        appends, moved = plan(self.store.positions(), rows, self.chunk_size)
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
        for key, _ in rows:
            self.counts["tick_rows" if key[0] == "ticks" else "candle_rows"] += 1
        self.counts["files_created"] += created
        self.counts["batches"] += 1
        return True

    def _sleep(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while not self._stop and time.monotonic() < end:
            time.sleep(min(0.1, end - time.monotonic()))
        return self._stop

    def handle(self, entries: list[Raw]) -> bool:
        """Write then acknowledge one batch; False when stopping left it unacknowledged."""
        if not entries:
            return True
        if not self.write(entries):
            return False
        self.ack(entries)
        self.counts["entries"] += len(entries)
        return True

    def ack(self, entries: list[Raw]) -> None:
        """Acknowledge entries, one XACK per stream."""
        by_stream: dict[str, list[bytes]] = {}
        for stream, eid, _ in entries:
            by_stream.setdefault(stream, []).append(eid)
        pipe = self.client.pipeline(transaction=False)
        for key, ids in by_stream.items():
            pipe.xack(key, GROUP, *ids)
        pipe.execute()

    def read(self, count: int, block_ms: int | None, new: bool = True) -> list[Raw]:
        """New entries (``new``) or this consumer's own pending ones, from every stream read."""
        keys = self.group.streams
        if not keys:
            if block_ms:
                self._sleep(block_ms / 1000)
            return []
        args: list[Any] = ["XREADGROUP", "GROUP", GROUP, CONSUMER, "COUNT", count]
        if block_ms is not None and new:
            args += ["BLOCK", block_ms]
        args += ["STREAMS", *keys, *([">" if new else "0"] * len(keys))]
        try:
            return _parse(self.client.execute_command(*args))  # type: ignore[no-untyped-call]
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.group.ensure(keys)
            return []

    def batch(self) -> list[Raw]:
        """New entries: wait a little for the first, then take what is there up to the batch size."""
        limit = self.settings.persist_batch
        per_read = max(1, min(5000, limit))
        entries = self.read(per_read, 500)
        while entries and len(entries) < limit:
            more = self.read(per_read, None)
            if not more:
                break
            entries += more
        return entries

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
        """The loop: own pending entries first, then new ones, until :meth:`stop`."""
        announced = False
        while not self._stop:
            try:
                # Our own entries delivered before a crash or an outage come first, in order.
                self.discover(force=True)
                while not self._stop:
                    entries = self.read(min(5000, self.settings.persist_batch), None, new=False)
                    if not entries:
                        break
                    if not self.handle(entries):
                        return
                if self._stop:
                    return
                if not announced or self._state == "degraded":
                    self.report("recovered" if announced else "running", "writing files")
                    self._last_problem = ""
                    announced = True
                with Prefetch(self) as ahead:
                    while not self._stop:
                        if not self.handle(ahead.get(0.5)):
                            return
                        self.check_lag()
            except RETRIABLE as exc:
                self.counts["redis_errors"] += 1
                self._state = "degraded"
                log.warning("Redis connection lost (%s); waiting for it", exc)
                if not self.connect():
                    return
                self.report("recovered", "Redis answers again")


class Prefetch:
    """Reads the next batch from Redis while the current one is written (two cores, one each).

    Batches come out in the order they were read, so rows keep their stream order. Entries read
    ahead but not written when the loop stops stay pending in Redis and come back on the next start.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.queue: queue.Queue[list[Raw] | BaseException] = queue.Queue(maxsize=1)
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, name="persistence-read", daemon=True)

    def __enter__(self) -> Prefetch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.halt.is_set():
            item: list[Raw] | BaseException
            try:
                self.worker.discover()
                item = self.worker.batch()
            except Exception as exc:  # handed to the loop, which knows what to do with it
                item = exc
            if isinstance(item, list) and not item:
                continue
            while not self.halt.is_set():
                try:
                    self.queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def get(self, timeout: float) -> list[Raw]:
        """The next batch (empty if none came within ``timeout``); re-raises the reader's error."""
        try:
            item = self.queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if isinstance(item, BaseException):
            raise item
        return item


def main(settings: PersistenceSettings) -> int:
    """Run the persistence service with these settings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s persistence %(levelname)s %(message)s")
    return Worker(settings).run()
