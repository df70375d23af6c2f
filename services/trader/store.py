"""Where the trader keeps its orders and its stop in Redis, and what it reads back after a restart.

Every order change goes, in one transaction, to ``{prefix}:orders`` (the public record) and to a
private hash of the orders still in flight or of unknown fate (``{prefix}:svc:trader:orders``),
*before* anything is sent to the page: a crash right after leaves the order on disk. Orders that
end (closed, rejected) leave the hash; their records stay on the stream.

The stop (kill switch or a rule) is kept too, so a restart does not quietly trade again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
import redis

from quantumflux.bus.fields import SCHEMA_VERSION
from quantumflux.bus.ids import text
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import RecordError, pack, pack_map, unpack
from quantumflux.bus.trading import Order, Payout, order_from_map, payout_from_map
from quantumflux.trader.engine import KILL_SWITCH

SERVICE = "trader"
ENDED = ("closed", "rejected")
ORDERS_MAXLEN = 100_000
# How far back the account, Chrome's state and the payouts are looked for at start.
LOOK_BACK = 20_000


@dataclass(frozen=True, slots=True)
class TraderKeys:
    """The trader's private keys."""

    keys: Keys

    @property
    def orders(self) -> str:
        return self.keys.private(SERVICE, "orders")

    @property
    def stop(self) -> str:
        return self.keys.private(SERVICE, "stop")

    @property
    def status(self) -> str:
        return self.keys.private(SERVICE, "status")

    @property
    def commands(self) -> str:
        return self.keys.private(SERVICE, "commands")

    def reply(self, command_id: str) -> str:
        return self.keys.private(SERVICE, "reply", command_id)


def entry_map(fields: Any) -> dict[str, Any] | None:
    """The map in a stream entry's ``d`` field; None when it cannot be read."""
    raw = fields.get(b"d", fields.get("d"))
    if raw is None:
        return None
    try:
        return unpack(raw)
    except RecordError:
        return None


class OrderStore:
    """Orders, the stop and the status of one install's trader."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.own = TraderKeys(keys)

    # ------------------------------------------------------------------ orders

    def save(self, orders: Iterable[Order]) -> None:
        """Publish each change on ``qf:orders`` and keep the orders in flight, in one transaction."""
        rows = list(orders)
        if not rows:
            return
        pipe = self.client.pipeline(transaction=True)
        for order in rows:
            pipe.xadd(self.keys.orders(), {"d": pack(order)}, maxlen=ORDERS_MAXLEN, approximate=True)
            if order.state in ENDED:
                pipe.hdel(self.own.orders, order.request_id)
            else:
                pipe.hset(self.own.orders, order.request_id, pack(order))
        pipe.execute()

    def kept(self) -> list[Order]:
        """The orders in flight or of unknown fate, as last stored."""
        out = []
        rows: Any = self.client.hvals(self.own.orders)
        for raw in rows:
            try:
                out.append(order_from_map(unpack(raw)))
            except RecordError:
                continue
        return sorted(out, key=lambda o: o.ts)

    def history(self, since: float) -> list[Order]:
        """Every order record published since ``since`` (epoch s), oldest first."""
        out = []
        rows: Any = self.client.xrange(self.keys.orders(), min=f"{int(since * 1000)}-0")
        for _id, fields in rows:
            obj = entry_map(fields)
            if obj is None:
                continue
            try:
                out.append(order_from_map(obj))
            except RecordError:
                continue
        return out

    # ------------------------------------------------------------------ the stop

    def save_stop(self, rule: str, message: str) -> None:
        self.client.hset(self.own.stop, mapping={"rule": rule, "message": message, "ts": str(time.time())})

    def clear_stop(self) -> None:
        self.client.delete(self.own.stop)

    def kill_switch(self, message: str) -> str:
        """Stop trading: kept, so a trader started later stays stopped, and told to the running
        one, which stops placing within a second; the command's id."""
        self.save_stop(KILL_SWITCH, message)
        return self.command({"cmd": "stop", "message": message})

    def stop(self) -> tuple[str, str] | None:
        """The stop kept from before, as (rule, message)."""
        got = self.client.hgetall(self.own.stop)
        if not got:
            return None
        values = {text(k): text(v) for k, v in got.items()}
        return values.get("rule", "kill_switch"), values.get("message", "stopped")

    # ------------------------------------------------------------------ status and commands

    def save_status(self, status: dict[str, Any], ttl: float) -> None:
        self.client.set(self.own.status, pack_map({"v": SCHEMA_VERSION, **status}), px=int(ttl * 1000))

    def status(self) -> dict[str, Any] | None:
        raw: Any = self.client.get(self.own.status)
        if raw is None:
            return None
        try:
            return unpack(raw)
        except RecordError:
            return None

    def command(self, body: dict[str, Any]) -> str:
        """Queue a command for the running trader; returns its stream id."""
        packed = msgpack.packb({"v": SCHEMA_VERSION, **body})
        return text(self.client.xadd(self.own.commands, {"d": packed}, maxlen=1000, approximate=True))

    def answer(self, command_id: str, body: dict[str, Any]) -> None:
        key = self.own.reply(command_id)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(key, pack_map({"v": SCHEMA_VERSION, **body}))
        pipe.expire(key, 60)
        pipe.execute()

    def wait_answer(self, command_id: str, timeout: float) -> dict[str, Any] | None:
        got: Any = self.client.blpop([self.own.reply(command_id)], timeout=timeout)
        return unpack(got[1]) if got else None

    # ------------------------------------------------------------------ what was said before the start

    def last_id(self, stream: str) -> str:
        """The newest id of a stream, ``0-0`` when it is empty: reading goes on after it."""
        rows: Any = self.client.xrevrange(stream, count=1)
        return text(rows[0][0]) if rows else "0-0"

    def recent_events(self, stream: str, count: int = LOOK_BACK) -> list[dict[str, Any]]:
        """The newest ``count`` entries of a stream, oldest first, as maps."""
        rows: Any = self.client.xrevrange(stream, count=count)
        return [m for m in (entry_map(f) for _id, f in reversed(rows)) if m is not None]

    def events_since(self, since: float, upto: str) -> Iterator[dict[str, Any]]:
        """Events from ``since`` (epoch s) up to the id ``upto``, oldest first."""
        rows: Any = self.client.xrange(self.keys.events(), min=f"{max(0, int(since * 1000))}-0", max=upto)
        for _id, fields in rows:
            obj = entry_map(fields)
            if obj is not None:
                yield obj

    def latest_payouts(self) -> list[Payout]:
        """The newest payout of each asset."""
        seen: dict[str, Payout] = {}
        for obj in self.recent_events(self.keys.payouts()):
            try:
                payout = payout_from_map(obj)
            except RecordError:
                continue
            seen[payout.asset] = payout
        return list(seen.values())
