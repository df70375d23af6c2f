"""The trader service: signals become orders through the trader's own page (the shell).

It reads only what is new on ``{prefix}:signals`` (never the backlog), the page's account,
deals and Chrome's state on ``{prefix}:events``, payouts on ``{prefix}:payouts`` and its own
command stream (manual orders, the kill switch). The decisions are the core's
(:class:`~quantumflux.trader.engine.Trader`); here each ``PlaceOrder`` is stored (:mod:`.store`)
*before* its frame goes through the page bridge, every change is published on
``{prefix}:orders``, and notices go out on their own thread (:mod:`.notify`).

At start, before anything new is placed, the orders left in flight are taken back and reconciled
with the deals the page reported meanwhile; an order of unknown fate is reported, never re-sent.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

from quantumflux.bridge import BridgeError, BridgeSettings, NotAllowed, PageBridge, SendUncertain
from quantumflux.bus.connection import RETRIABLE, connect_sync
from quantumflux.bus.ids import text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Event, RecordError
from quantumflux.bus.service import ServiceShell
from quantumflux.bus.trading import Order, payout_from_map, signal_from_map
from quantumflux.ingest.payouts import PayoutChanges
from quantumflux.trader.config import TraderSettings
from quantumflux.trader.deals import deals_of
from quantumflux.trader.engine import KILL_SWITCH, PlaceOrder, Refuse, StopTrading, Trader, TradeRules, Update
from quantumflux.trader.notices import event_notice, order_notice, stop_notice
from quantumflux.trader.notify import Notifier
from quantumflux.trader.reconcile import PageDeals
from quantumflux.trader.store import OrderStore, entry_map

SERVICE = "trader"
log = logging.getLogger("qf.trader")
READ_BLOCK_MS = 200  # the kill switch is heard within this, well inside a second
STATUS_EVERY = 1.0
# Deals reported a little before an order's request still count for it (clocks, rounding).
RESTORE_SLACK = 5.0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def rules_of(settings: TraderSettings, real_money: bool) -> TradeRules:
    """The core's rules from the settings and the command line's real-money confirmation."""
    return TradeRules(
        mode=settings.trade,
        real_money=real_money,
        limits=settings.limits(),
        max_lateness=settings.trade_max_lateness,
        expiry=settings.trade_expiry,
        timeout=settings.trade_order_timeout,
    )


class Worker(ServiceShell):
    """One trader process; :meth:`run` until SIGTERM/SIGINT."""

    settings: TraderSettings

    def __init__(
        self,
        settings: TraderSettings,
        real_money: bool = False,
        bridge_settings: BridgeSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(SERVICE, log)
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.client = connect_sync(settings)
        self.clock = clock
        self.store = OrderStore(self.client, self.keys)
        self.trader = Trader(rules_of(settings, real_money))
        self.notifier = Notifier(settings.notify)
        self.counts: Counter[str] = Counter()
        self.payout_changes = PayoutChanges()
        self.positions: dict[str, str] = {}  # stream -> last id read
        self.bridge_settings = bridge_settings or BridgeSettings()
        self.bridge: PageBridge | None = None
        self._bridge_stack: AsyncExitStack | None = None
        self._status_due = 0.0
        self._said = ("", "")

    # ------------------------------------------------------------------ start

    def restore(self) -> None:
        """The stop, the account, Chrome's state and payouts as last said; orders reconciled."""
        now = self.clock()
        kept_stop = self.store.stop()
        if kept_stop is not None:
            self.trader.stopped = StopTrading(*kept_stop)
        events = self.keys.events()
        for obj in self.store.recent_events(events):
            if obj.get("type") in ("balance", "chrome_status"):
                self.trader.on_event(str(obj["type"]), obj, now)
            elif obj.get("type") == "assets":
                self.on_assets(obj)
        for payout in self.store.latest_payouts():
            self.trader.on_payout(payout)
        upto = self.store.last_id(events)
        self.positions = {
            events: upto,
            self.keys.signals(): self.store.last_id(self.keys.signals()),
            self.keys.payouts(): self.store.last_id(self.keys.payouts()),
            self.store.own.commands: self.store.last_id(self.store.own.commands),
        }
        kept = self.store.kept()
        day_start = now - now % 86400 - 3600
        records = self.store.history(min([day_start, *(o.ts for o in kept)]))
        latest = {o.request_id: o for o in records}
        records += [o for o in kept if latest.get(o.request_id) != o]
        in_flight = [o for o in kept if o.state in ("requested", "open")]
        since = min((o.ts for o in in_flight), default=now) - RESTORE_SLACK
        page = PageDeals.of(self._deals_since(since, upto))
        update = self.trader.restore(records, page, now)
        self.publish(update)
        if in_flight:
            log.info(
                "took back %d order(s) in flight; %d decided now, %d waiting for the page",
                len(in_flight),
                len({o.request_id for o in update.orders}),
                len(self.trader.waiting),
            )

    def on_assets(self, obj: dict[str, Any]) -> None:
        """The page's asset list: the payouts, and which assets are open (as on ``qf:payouts``)."""
        event = Event("assets", float(obj.get("ts") or 0), obj)
        for payout in self.payout_changes.changes(event):
            self.trader.on_payout(payout)

    def _deals_since(self, since: float, upto: str) -> list[Any]:
        found = []
        for obj in self.store.events_since(since, upto):
            got = deals_of(str(obj.get("type")), obj)
            if got is not None:
                found += got[1]
        return found

    # ------------------------------------------------------------------ publishing

    def publish(self, update: Update) -> None:
        """Store and publish order changes; a new stop is kept and told."""
        self.store.save(update.orders)
        for order in update.orders:
            self.counts[f"orders_{order.state}"] += 1
            self.notifier.tell(order_notice(order))
        if update.stop is not None:
            self.on_stop(update.stop)

    def on_stop(self, stop: StopTrading) -> None:
        self.store.save_stop(stop.rule, stop.message)
        self.counts["stops"] += 1
        log.warning("trading stopped: %s (%s)", stop.message, stop.rule)
        self.notifier.tell(stop_notice(stop.rule, stop.message))

    def info(self) -> dict[str, Any]:
        """Counters and the trading state for the heartbeat (``qf status``)."""
        try:
            status = self.trader.status(self.clock())
        except RuntimeError:  # the loop changed the book meanwhile: the counters suffice
            return {"state": self._state, **self.counts}
        return {
            **self.counts,
            "state": self._state,
            "mode": status["mode"],
            "trading": status["state"],
            "reason": status["reason"],
            "open_orders": len(status["open_orders"]),
            "unknown_orders": len(status["unknown_orders"]),
            "notices_sent": self.notifier.sent,
            "notices_failed": self.notifier.failed,
        }

    def maybe_status(self, now: float) -> None:
        """Keep the status for ``qf trade status``; report a change of state on ``qf:events``."""
        if now < self._status_due:
            return
        self._status_due = now + STATUS_EVERY
        status = self.trader.status(now)
        self.store.save_status(status, ttl=max(10.0, self.settings.heartbeat_ttl))
        said = (status["state"], status["reason"] or "")
        if said != self._said:
            self._said = said
            message = f"trading {status['state']}" + (f": {status['reason']}" if status["reason"] else "")
            self.report(
                "running", message, trading=status["state"], mode=status["mode"], reason=status["reason"]
            )

    # ------------------------------------------------------------------ reading

    def read(self) -> list[tuple[str, str, dict[str, Any]]]:
        """New entries of every stream read (blocking briefly), as (stream, id, map)."""
        got: Any = self.client.xread(self.positions, count=200, block=READ_BLOCK_MS)  # type: ignore[arg-type]
        out = []
        for stream, entries in got or []:
            name = text(stream)
            for entry_id, fields in entries:
                self.positions[name] = text(entry_id)
                obj = entry_map(fields)
                if obj is None:
                    self.counts["malformed"] += 1
                    continue
                out.append((name, text(entry_id), obj))
        return out

    async def handle(self, stream: str, obj: dict[str, Any]) -> None:
        now = self.clock()
        if stream == self.keys.events():
            self.notifier.tell(event_notice(obj))
            if obj.get("type") == "assets":
                self.on_assets(obj)
            self.publish(self.trader.on_event(str(obj.get("type")), obj, now))
        elif stream == self.keys.payouts():
            try:
                self.trader.on_payout(payout_from_map(obj))
            except RecordError:
                self.counts["malformed"] += 1
        elif stream == self.keys.signals():
            try:
                signal = signal_from_map(obj)
            except RecordError:
                self.counts["malformed"] += 1
                return
            self.counts["signals"] += 1
            await self.decided(self.trader.on_signal(signal, now))
        else:
            await self.command(obj)

    async def command(self, obj: dict[str, Any]) -> None:
        """``stop``, ``resume`` or a manual ``order`` from ``qf trade``; answered on its reply key."""
        cmd, cid = obj.get("cmd"), str(obj.get("id") or "")
        answer: dict[str, Any] = {"ok": True}
        if cmd == "stop":
            self.on_stop(self.trader.stop(str(obj.get("message") or "stopped by the trader"), KILL_SWITCH))
        elif cmd == "resume":
            self.trader.resume()
            self.store.clear_stop()
            log.info("trading resumed")
        elif cmd == "order" and _number(obj.get("amount")) and isinstance(obj.get("expiry"), int):
            decision = self.trader.on_manual(
                str(obj.get("asset")),
                str(obj.get("action")),
                float(obj["amount"]),
                int(obj["expiry"]),
                self.clock(),
            )
            answer = await self.decided(decision)
        else:
            answer = {"ok": False, "message": f"unknown command {cmd!r}"}
        self._status_due = 0.0
        if cid:
            self.store.answer(cid, answer)

    async def decided(self, decision: Any) -> dict[str, Any]:
        """Carry out a decision; returns what a manual order's command is answered."""
        if isinstance(decision, PlaceOrder):
            await self.place(decision)
            return {"ok": True, "request_id": decision.order.request_id}
        if isinstance(decision, StopTrading):
            self.on_stop(decision)
            return {"ok": False, "rule": decision.rule, "message": decision.message}
        if isinstance(decision, Refuse):
            self.counts[f"refused_{decision.rule}"] += 1
            log.info("no order: %s (%s)", decision.message, decision.rule)
            return {"ok": False, "rule": decision.rule, "message": decision.message}
        return {"ok": False, "message": "trading is off"}

    # ------------------------------------------------------------------ sending through the page

    async def place(self, decision: PlaceOrder) -> None:
        """Store the order, then send its frame; a frame that surely did not go out rejects it."""
        order = decision.order
        self.store.save([order])  # before the frame: a crash now leaves the order on disk
        self.counts["orders_requested"] += 1
        event, body = json.loads(decision.frame[2:])
        try:
            bridge = await self._bridge()
            await bridge.send(event, body)
        except SendUncertain as exc:
            # It may have gone out: the order waits for the broker's answer or its time-out.
            log.warning("order %s: %s; waiting for the broker's answer", order.request_id, exc)
            await self._drop_bridge()
            return
        except (NotAllowed, BridgeError) as exc:
            await self._drop_bridge()
            self.publish(self.trader.send_failed(order.request_id, f"not sent: {exc}", self.clock()))
            return
        self.counts["frames_sent"] += 1
        log.info("order %s sent: %s %s %s for %s s", order.request_id, order.action, order.asset,
                 order.amount, order.expiry)  # fmt: skip
        if self.settings.trade_screenshots:
            await self._screenshot(bridge, order)

    async def _bridge(self) -> PageBridge:
        if self.bridge is None:
            stack = AsyncExitStack()
            self.bridge = await stack.enter_async_context(PageBridge(self.bridge_settings))
            self._bridge_stack = stack
        return self.bridge

    async def _drop_bridge(self) -> None:
        stack, self._bridge_stack, self.bridge = self._bridge_stack, None, None
        if stack is not None:
            await stack.aclose()

    async def _screenshot(self, bridge: PageBridge, order: Order) -> None:
        folder = Path(self.settings.data_dir) / "orders" / "screens"
        try:
            png = await bridge.screenshot()
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{order.request_id}.png").write_bytes(png)
            self.counts["screenshots"] += 1
        except (BridgeError, OSError) as exc:
            self.counts["screenshot_errors"] += 1
            log.warning("no screenshot of order %s: %s", order.request_id, exc)

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        self.handle_stop_signals()
        if not self.connect():
            return 0
        self.start_heartbeat(self.info)
        try:
            trio.run(self._main)
        finally:
            self.stop_heartbeat()
            self.report("stopped", "stopped")
            self.notifier.close()
        return 0

    async def _main(self) -> None:
        while not self._stop:
            try:
                self.restore()
                break
            except RETRIABLE as exc:
                if not await trio.to_thread.run_sync(self.ride_out_outage, exc):
                    return
        self.report("running", f"trading {self.trader.rules.mode}", mode=self.trader.rules.mode)
        try:
            await self._loop()
        finally:
            # The bridge's connection was opened in this task's scope and is closed in it too.
            await self._drop_bridge()

    async def _loop(self) -> None:
        while not self._stop:
            try:
                for stream, _id, obj in await trio.to_thread.run_sync(self.read):
                    await self.handle(stream, obj)
                now = self.clock()
                self.publish(self.trader.tick(now))
                self.maybe_status(now)
            except RETRIABLE as exc:
                self.counts["redis_errors"] += 1
                if not await trio.to_thread.run_sync(self.ride_out_outage, exc):
                    return


def main(settings: TraderSettings, real_money: bool) -> int:
    """Run the trader with these settings (``QF_TRADE`` must be demo or real)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s trader %(levelname)s %(message)s")
    return Worker(settings, real_money).run()
