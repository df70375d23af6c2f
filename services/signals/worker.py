"""The signals service's loop: closed candles → strategy decisions → signals and paper contracts.

A plain blocking loop on the sync Redis client, one consumer ``signals`` in the group ``signals``
on ``{prefix}:bars:{tf}`` of every configured timeframe and on ``{prefix}:events`` (for the
broker's payouts). Exactly once in effect: each batch's outputs (XADD to ``{prefix}:signals`` and
``{prefix}:paper``), the new candles of the windows, the paper state with the last applied stream
ids, and the XACK of the batch's entries go to Redis in one MULTI/EXEC transaction. A SIGKILL
before EXEC changes nothing (the entries are still pending and are handled again from the saved
state); after EXEC everything is there at once. After any Redis error the state is read back from
Redis, so memory never runs ahead of what was saved.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import msgpack
from redis.exceptions import ResponseError

from quantumflux.bus.connection import RETRIABLE, connect_sync
from quantumflux.bus.groups import ConsumerGroup, Entry
from quantumflux.bus.ids import id_tuple, text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import SCHEMA_VERSION, Candle, Event, RecordError, decode_fields, pack, pack_map
from quantumflux.bus.service import ServiceShell
from quantumflux.bus.timeframes import label
from quantumflux.bus.trading import PaperContract, Signal
from quantumflux.signals.config import SignalsSettings
from quantumflux.signals.paper import Paper, Rules, book_from_state, book_state
from quantumflux.signals.runner import GAP, LATE, Row, Window, decide, needed_cap
from quantumflux.signals.spec import Run, SpecError, describe, parse_document, parse_text, timeframes_of

SERVICE = "signals"
GROUP = "signals"
# One fixed consumer name: after a restart the service finds its own pending entries again.
CONSUMER = "signals"
log = logging.getLogger("qf.signals")


def load_runs(settings: SignalsSettings) -> list[Run]:
    """The configured runs: from the file when one is set, else from ``QF_SIGNALS``."""
    path = settings.signals_file
    if path is None:
        return parse_text(settings.signals)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"can't read the strategies file {path}: {exc.strerror or exc}") from None
    yaml_syntax = Path(path).suffix.lower() in (".yaml", ".yml")
    try:
        return parse_document(text, yaml_syntax)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def rules_of(settings: SignalsSettings) -> Rules:
    """The paper-trading rules from the settings."""
    return Rules.of(settings, prefix="paper_")


class Worker(ServiceShell):
    """One signals service process."""

    settings: SignalsSettings

    def __init__(self, settings: SignalsSettings, runs: list[Run]) -> None:
        super().__init__(SERVICE, log)
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.client = connect_sync(settings)
        self.group = ConsumerGroup(self.client, GROUP, CONSUMER, [], start_id="0")
        self.rules = rules_of(settings)
        self.runs = runs
        self.counts: Counter[str] = Counter()
        self._reload_asked = False
        self._file_stamp = self._stamp()
        self._next_reload_check = 0.0
        self.state_key = self.keys.private(SERVICE, "state")
        self.books_key = self.keys.private(SERVICE, "books")
        self.reset()

    # -- state -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty state in memory (before :meth:`load`)."""
        self.windows: dict[tuple[str, int], Window] = {}
        self.paper = Paper(self.rules)
        self.payouts: dict[str, float] = {}
        self.last_ids: dict[str, str] = {}

    def window_key(self, asset: str, tf: int) -> str:
        """Redis list holding the window of an asset and timeframe."""
        return self.keys.private(SERVICE, "window", tf, asset)

    @property
    def cap(self) -> int:
        """Candles kept per window."""
        return needed_cap(self.settings.signals_window, (r.lookback() for r in self.runs))

    def load(self) -> None:
        """Read the saved state (windows, paper books, payouts, last ids) back from Redis."""
        self.reset()
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self.state_key)
        pipe.hvals(self.books_key)
        raw, books = pipe.execute()
        if raw is None:
            return
        state = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        self.paper = Paper(self.rules, total_pnl=float(state.get("total_pnl", 0.0)))
        for item in books:
            b = book_from_state(msgpack.unpackb(item, raw=False, strict_map_key=False))
            self.paper.books[b.key] = b
        self.payouts = {str(k): float(v) for k, v in (state.get("payouts") or {}).items()}
        self.last_ids = {str(k): str(v) for k, v in (state.get("last_ids") or {}).items()}
        cap = self.cap
        pipe = self.client.pipeline(transaction=False)
        pairs = [(str(a), int(tf)) for a, tf in state.get("windows") or []]
        for asset, tf in pairs:
            pipe.lrange(self.window_key(asset, tf), 0, -1)
        for (asset, tf), items in zip(pairs, pipe.execute(), strict=True):
            rows: list[Row] = [tuple(msgpack.unpackb(x)) for x in items]
            w = Window(tf, cap, rows[-cap:])
            self.windows[(asset, tf)] = w

    def state_blob(self) -> bytes:
        """The state saved with every batch (windows as lists and books in a hash, apart)."""
        return pack_map(
            {
                "v": SCHEMA_VERSION,
                "total_pnl": self.paper.total_pnl,
                "payouts": self.payouts,
                "last_ids": self.last_ids,
                "windows": [[a, tf] for a, tf in self.windows],
            }
        )

    # -- reporting -------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Counters for the heartbeat (called from the heartbeat thread)."""
        for _ in range(3):
            try:
                out: dict[str, Any] = dict(self.counts)
                out.update(
                    state=self._state,
                    strategies=describe(self.runs),
                    windows=len(self.windows),
                    books=len(self.paper.books),
                    open_contracts=sum(len(b.open) for b in list(self.paper.books.values())),
                    total_pnl=round(self.paper.total_pnl, 6),
                    # signals the risk rules turned down, by rule, over every paper account
                    paper_refused=dict(sum((b.refused for b in list(self.paper.books.values())), Counter())),
                    malformed=dict(self.group.errors),
                    problem=self._last_problem,
                )
                return out
            except RuntimeError:  # a dict changed size under us: the loop was busy, try again
                continue
        return {"state": self._state}

    def ask_reload(self, *_: object) -> None:
        """SIGHUP: read the strategies again before the next batch."""
        self._reload_asked = True

    # -- configuration reload --------------------------------------------------------------

    def _stamp(self) -> tuple[float, int] | None:
        path = self.settings.signals_file
        if path is None:
            return None
        try:
            st = Path(path).stat()
        except OSError:
            return None
        return st.st_mtime, st.st_size

    def maybe_reload(self) -> None:
        """Re-read the strategies when asked (SIGHUP) or when the file changed."""
        now = time.monotonic()
        if not self._reload_asked and now < self._next_reload_check:
            return
        self._next_reload_check = now + self.settings.signals_reload
        stamp = self._stamp()
        if not self._reload_asked and stamp == self._file_stamp:
            return
        self._reload_asked = False
        self._file_stamp = stamp
        try:
            runs = load_runs(self.settings)
        except SpecError as exc:
            self._last_problem = f"the new strategies were not applied: {exc}"
            self.counts["reload_errors"] += 1
            self.report("degraded", f"{self._last_problem}; still running the previous ones")
            return
        self.runs = runs
        for w in self.windows.values():
            w.resize(self.cap)
        self.counts["reloads"] += 1
        self._last_problem = ""
        self.update_streams()
        self.report("running", f"strategies reloaded: {describe(runs) or 'none'}", strategies=describe(runs))

    def wanted_streams(self) -> list[str]:
        """Bar streams of the configured timeframes and of open contracts, and the events stream."""
        tfs = set(timeframes_of(self.runs))
        tfs |= {b.tf for b in self.paper.books.values() if b.open}
        return [self.keys.events()] + [self.keys.bars(tf) for tf in sorted(tfs)]

    def update_streams(self) -> None:
        """Join the group on the streams now needed; stop reading the others."""
        wanted = self.wanted_streams()
        new = [k for k in wanted if k not in self.group.streams]
        gone = [k for k in self.group.streams if k not in wanted]
        for key in gone:
            # A group nobody reads would hold back the trimming of the stream for ever.
            self.client.xgroup_destroy(key, GROUP)
            log.info("no longer reading %s", key)
        for key in new:
            if key in self.last_ids:
                # Read before, then left: carry on with new candles only (the missed ones are a gap).
                try:
                    self.client.xgroup_create(key, GROUP, id="$", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
            else:
                self.group.ensure([key])
        if new:
            log.info("reading %s", ", ".join(new))
        self.group.streams[:] = wanted

    def leave_unused_streams(self) -> None:
        """Leave bar streams of timeframes dropped while the service was stopped (at start)."""
        wanted = set(self.wanted_streams())
        pattern = self.keys.bars(0)[:-1] + "*"
        for raw in self.client.scan_iter(match=pattern, count=1000, _type="stream"):
            key = text(raw)
            name = self.keys.parse(key)
            if key in wanted or name is None or name.kind != "bars":
                continue
            names = {g["name"] for g in self.client.xinfo_groups(key)}
            if GROUP.encode() in names or GROUP in names:
                self.client.xgroup_destroy(key, GROUP)
                log.info("no longer reading %s", key)

    # -- one batch -------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """Keep the broker's payouts from an ``assets`` event."""
        if event.type != "assets" or not self.settings.paper_broker_payout:
            return
        items = event.data.get("assets")
        if not isinstance(items, list):
            self.group.errors["bad_assets_event"] += 1
            return
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("asset"), str):
                continue
            pct = item.get("payout")
            if isinstance(pct, int | float) and not isinstance(pct, bool) and 0 < pct <= 1000:
                self.payouts[item["asset"]] = float(pct) / 100.0
        self.counts["payout_updates"] += 1

    def on_candle(self, bar: Candle, out: Outputs) -> None:
        """A closed candle: window, settlements, decisions, new contracts."""
        covering = [r for r in self.runs if r.covers(bar.asset, bar.tf)]
        w = self._window_for(bar, bool(covering))
        if w is None:
            self.counts["bars_not_configured"] += 1
            return
        row: Row = (bar.time, bar.open, bar.high, bar.low, bar.close, bar.ticks)
        how = w.add(row)
        if how == LATE:
            self.counts["late_bars"] += 1
            return
        self.counts["bars"] += 1
        out.rows.setdefault((bar.asset, bar.tf), []).append(row)
        if how == GAP:
            self.counts["gaps"] += 1
        out.paper.extend(self.paper.on_candle(bar.asset, bar.tf, bar.time, bar.close, how == GAP))
        if covering:
            frame = w.frame()
            for r in covering:
                self.on_decision(r, bar, frame, out)

    def _window_for(self, bar: Candle, configured: bool) -> Window | None:
        """The window of the candle's asset and timeframe; a new one only when a strategy wants it."""
        pair = (bar.asset, bar.tf)
        w = self.windows.get(pair)
        if w is None and configured:
            w = self.windows[pair] = Window(bar.tf, self.cap)
        return w

    def on_decision(self, r: Run, bar: Candle, frame: Any, out: Outputs) -> None:
        """One strategy's decision at the candle's close: a signal, and a contract if it opens one."""
        try:
            direction, confidence = decide(r.impl(), r.param_map(), frame)
        except ValueError as exc:  # StrategyError and bad numbers: counted, never a crash
            self.counts["strategy_errors"] += 1
            self._last_problem = f"{r.key} failed on {bar.asset}: {exc}"
            return
        if direction == 0:
            return
        book = self.paper.book(r.key, bar.asset, bar.tf, label(bar.tf))
        payout = self.payouts.get(bar.asset, self.rules.payout)
        opened = self.paper.on_signal(book, bar.time, bar.close, direction, confidence, payout)
        self.counts["signals"] += 1
        out.signals.append(
            Signal(
                id=f"{book.key}#{bar.time}",
                asset=bar.asset,
                timeframe=bar.tf,
                time=bar.time,
                direction=direction,
                confidence=confidence,
                strategy=r.strategy,
                params=r.param_map(),
                run=r.key,
                price=bar.close,
                contract=opened.id if opened else None,
            )
        )
        if opened:
            out.paper.append(opened)

    def apply(self, entries: list[Entry]) -> Outputs:
        """Handle entries in order on the state in memory; what to publish and save."""
        out = Outputs()
        for e in entries:
            seen = self.last_ids.get(e.stream)
            if seen is not None and id_tuple(e.id) <= id_tuple(seen):
                self.counts["skipped_already_applied"] += 1
                continue
            self.last_ids[e.stream] = e.id
            try:
                rec = decode_fields(e.fields)
            except RecordError as exc:
                self.group.errors[exc.kind] += 1
                continue
            if isinstance(rec, Candle):
                if not rec.closed:
                    self.group.errors["not_closed"] += 1
                elif not rec.complete and not self.settings.include_incomplete:
                    # A candle that missed part of its period is treated as one that is missing.
                    self.counts["incomplete_bars"] += 1
                else:
                    self.on_candle(rec, out)
            elif isinstance(rec, Event):
                self.on_event(rec)
            else:
                self.group.errors["unexpected_record"] += 1
        return out

    def commit(self, entries: list[Entry], out: Outputs) -> None:
        """Publish the outputs, save the windows and state and acknowledge the entries, atomically."""
        now = time.time()
        maxlen = self.settings.signals_maxlen
        pipe = self.client.pipeline(transaction=True)
        for s in out.signals:
            pipe.xadd(self.keys.signals(), {"d": pack(replace(s, ts=now))}, maxlen=maxlen)
        for p in out.paper:
            strategy, params = self._run_fields(p.run)
            contract = replace(p, strategy=strategy, params=params, ts=now)
            pipe.xadd(self.keys.paper(), {"d": pack(contract)}, maxlen=maxlen, approximate=True)
        for (asset, tf), rows in out.rows.items():
            key = self.window_key(asset, tf)
            pipe.rpush(key, *[msgpack.packb(list(r)) for r in rows])
            pipe.ltrim(key, -self.windows[(asset, tf)].cap, -1)
        if self.paper.dirty:
            changed = {k: pack_map(book_state(self.paper.books[k])) for k in self.paper.dirty}
            pipe.hset(self.books_key, mapping=changed)  # type: ignore[arg-type]
        pipe.set(self.state_key, self.state_blob())
        by_stream: dict[str, list[str]] = {}
        for e in entries:
            by_stream.setdefault(e.stream, []).append(e.id)
        for key, ids in by_stream.items():
            pipe.xack(key, GROUP, *ids)
        pipe.execute()
        self.paper.dirty.clear()
        self.counts["signals_published"] += len(out.signals)
        for p in out.paper:
            self.counts[f"contracts_{p.kind}"] += 1
        self.counts["entries"] += len(entries)
        self.counts["batches"] += 1

    def _run_fields(self, run_key: str) -> tuple[str, dict[str, Any] | None]:
        # The strategy and parameters of a run; a run dropped since the contract opened keeps its
        # name, its parameters are no longer known.
        for r in self.runs:
            if r.key == run_key:
                return r.strategy, r.param_map()
        return run_key.partition("(")[0], None

    def handle(self, entries: list[Entry]) -> None:
        """Apply and commit one batch; on a Redis error the saved state is read back."""
        if not entries:
            return
        try:
            out = self.apply(entries)
            self.commit(entries, out)
        except BaseException:
            self.load()
            raise
        # A contract on a timeframe no strategy uses any more still needs its bars until it settles.
        if out.paper and set(self.wanted_streams()) != set(self.group.streams):
            self.update_streams()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code."""
        self.handle_stop_signals()
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, self.ask_reload)
        if not self.connect():
            return 0
        self.load()
        self.update_streams()
        self.report(
            "starting", f"running {describe(self.runs) or 'no strategies'}", strategies=describe(self.runs)
        )
        self.start_heartbeat(self.info)
        try:
            self._loop()
        finally:
            self.stop_heartbeat()
            self.report("stopped", "stopped")
        return 0

    def _loop(self) -> None:
        backlog = True
        announced = False
        reload_state = False
        batch = self.settings.signals_batch
        while not self._stop:
            try:
                if reload_state:
                    self.load()
                    reload_state = False
                self.maybe_reload()
                if not backlog:
                    self.handle(self.group.read(count=batch, block_ms=500))
                    continue
                # Our own entries delivered before a crash or an outage come first, in order.
                entries = self.group.pending(count=batch)
                if entries:
                    self.handle(entries)
                    continue
                backlog = False
                self._announce(announced)
                announced = True
            except RETRIABLE as exc:
                self.counts["redis_errors"] += 1
                if not self.ride_out_outage(exc):
                    return
                # Memory may be ahead of what was saved: read the state back before going on.
                reload_state = backlog = True

    def _announce(self, announced: bool) -> None:
        """Say the service is watching, once the backlog is done (and again after a problem)."""
        if (not announced or self._state == "degraded") and not self._last_problem:
            self.report("running" if not announced else "recovered", "watching closed candles")


@dataclass
class Outputs:
    """What one batch publishes and saves."""

    signals: list[Signal] = field(default_factory=list)
    paper: list[PaperContract] = field(default_factory=list)
    rows: dict[tuple[str, int], list[Row]] = field(default_factory=dict)


def main(settings: SignalsSettings) -> int:
    """Run the signals service with these settings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s signals %(levelname)s %(message)s")
    try:
        runs = load_runs(settings)
    except SpecError as exc:
        log.error("the strategies can't be used: %s", exc)
        return 2
    return Worker(settings, runs).run()
