"""The audit files of orders: ``qf:orders`` on the real Redis → ``orders/`` files, exactly once."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from quantumflux.bus.keys import Keys
from quantumflux.bus.records import pack
from quantumflux.bus.trading import Order
from quantumflux.files.orders import ORDER_HEADER, iter_order_files, order_row, read_orders
from tests.persistence.test_service import T0, Service, drained, wait_until
from tests.persistence.test_service import service as _service

service = _service  # the same fixture: the service as a child process

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def life_of(n: int, mode: str = "demo") -> list[Order]:
    """Order ``n`` asked for, opened by the broker and closed won or lost (or refused, one in five)."""
    rid = f"r{n:05d}"
    base = Order(rid, "EURUSD_otc", "call" if n % 2 else "put", 5.0 + n % 3, 60, mode, "requested")
    t = T0 + n * 2.5
    if n % 5 == 4:
        return [
            _at(base, t),
            _at(
                Order(**{**_fields(base), "state": "rejected", "reason": 'broker said "no, money"'}), t + 0.4
            ),
        ]
    opened = Order(**{**_fields(base), "state": "open", "deal_id": f"d{n}", "open_price": 1.08 + n / 1e5})
    won = n % 3 != 0
    closed = Order(
        **{
            **_fields(opened),
            "state": "closed",
            "close_price": opened.open_price + (1e-4 if won == (base.action == "call") else -1e-4),  # type: ignore[operator]
            "profit": 4.6 if won else -base.amount,
        }
    )
    return [_at(base, t), _at(opened, t + 0.25), _at(closed, t + 60.125)]


def _fields(o: Order) -> dict[str, object]:
    return {name: getattr(o, name) for name in Order.__slots__}  # type: ignore[attr-defined]


def _at(o: Order, ts: float) -> Order:
    return Order(**{**_fields(o), "ts": ts})


def xadd_orders(client: redis.Redis, keys: Keys, orders: list[Order]) -> None:
    pipe = client.pipeline(transaction=False)
    for o in orders:
        pipe.xadd(keys.orders(), {"d": pack(o)})
    pipe.execute()


def rows_on_disk(data: Path) -> list[dict[str, str]]:
    return [row for f in iter_order_files(data) for row in read_orders(f.path)]


def lines_on_disk(data: Path) -> int:
    """Lines in the order files now (a line being written may be torn: only counted)."""
    return sum(f.path.read_bytes().count(b"\n") for f in iter_order_files(data))


def test_every_change_of_every_order_becomes_one_row(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    orders = [o for n in range(12) for o in life_of(n)]
    xadd_orders(rclient, keys, orders)
    svc = service(QF_PERSIST="candle")  # orders are audit: written whatever else is
    wait_until(lambda: drained(rclient, [keys.orders()]), what="the orders acknowledged")
    assert svc.stop() == 0

    files = list(iter_order_files(tmp_path / "data"))
    assert [f.path.parent.name for f in files] == ["orders"]
    assert re.fullmatch(r"orders_\d{8}T\d{6}Z_0001\.csv", files[0].path.name)
    text = files[0].path.read_text()
    assert text.splitlines()[0] == ",".join(ORDER_HEADER)
    assert text == ",".join(ORDER_HEADER) + "\n" + "".join(map(order_row, orders))
    rows = rows_on_disk(tmp_path / "data")
    assert [(r["request_id"], r["state"]) for r in rows] == [(o.request_id, o.state) for o in orders]
    assert all(STAMP.fullmatch(r["timestamp"]) for r in rows)
    refused = next(r for r in rows if r["state"] == "rejected")
    assert refused["reason"] == 'broker said "no, money"' and refused["deal_id"] == ""
    closed = next(r for r in rows if r["state"] == "closed")
    assert closed["timestamp"].endswith(".125Z") and float(closed["profit"]) in (4.6, -5.0, -6.0, -7.0)


def test_orders_are_cut_into_chunks(
    service: Callable[..., Service], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    orders = [o for n in range(11) for o in life_of(n)]
    assert len(orders) % 7  # a last chunk that is not full
    xadd_orders(rclient, keys, orders)
    svc = service(QF_ORDER_CHUNK="7")
    wait_until(lambda: drained(rclient, [keys.orders()]), what="the orders acknowledged")
    assert svc.stop() == 0
    files = list(iter_order_files(tmp_path / "data"))
    assert [len(read_orders(f.path)) for f in files] == [7] * (len(orders) // 7) + [len(orders) % 7]
    assert [r["request_id"] for r in rows_on_disk(tmp_path / "data")] == [o.request_id for o in orders]


def test_sigkill_loses_and_doubles_no_order_row(
    service: Callable[..., Service], rclient: redis.Redis, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    data = tmp_path / "data"
    orders = [o for n in range(600) for o in life_of(n, "real" if n % 7 == 0 else "demo")]
    rng = random.Random()

    def feed(part: list[Order]) -> None:
        client = redis.Redis.from_url(redis_url)
        for k in range(0, len(part), 40):
            xadd_orders(client, keys, part[k : k + 40])
            time.sleep(0.01)
        client.close()

    step = len(orders) // 5 + 1
    for start in range(0, len(orders), step):
        feeder = threading.Thread(target=feed, args=(orders[start : start + step],))
        feeder.start()
        before = lines_on_disk(data)
        svc = service(QF_ORDER_CHUNK="97")
        # Killed once it writes, at a random moment: mid-append, mid-commit or between them.
        wait_until(lambda: lines_on_disk(data) > before, what="the service writing")  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.2))
        svc.kill()
        feeder.join()
    svc = service(QF_ORDER_CHUNK="97")
    wait_until(lambda: drained(rclient, [keys.orders()]), timeout=60, what="all acknowledged")
    assert svc.stop() == 0

    rows = rows_on_disk(data)
    assert [(r["request_id"], r["state"]) for r in rows] == [(o.request_id, o.state) for o in orders]
    assert "".join(order_row(o) for o in orders) == "".join(
        "".join(f.path.read_text().splitlines(keepends=True)[1:]) for f in iter_order_files(data)
    )
