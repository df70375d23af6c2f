"""The user's own deals and orders, and the deals' clock (pure; read only, nothing is ever traded).

Only the fields listed in :data:`DEAL_FIELDS` leave the decoder: the account's ``uid`` and
anything else the broker adds are dropped.
"""

from __future__ import annotations

import math
from typing import Any

from quantumflux.bus.records import Event
from quantumflux.ingest.decode.state import MAX_NAME_LEN, DecoderState, Output, SocketState
from quantumflux.ingest.decode.values import MAX_OFFSET, broker_time, deal_time, direction, flag, num
from quantumflux.ingest.frames import Frame

OFFSET_STEP = 1800.0
MAX_ERROR_LEN = 200
MAX_DEAL_ID_LEN = MAX_NAME_LEN * 2
# A deal's fields as published, in order; unknown ones are None.
DEAL_FIELDS = (
    "state",
    "id",
    "asset",
    "direction",
    "amount",
    "open_time",
    "close_time",
    "open_price",
    "close_price",
    "profit",
    "payout_percent",
    "is_demo",
    "currency",
    "request_id",
)


# ---------------------------------------------------------------------- the broker's answers


def on_opened(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``successopenOrder``: one deal, just opened."""
    if isinstance(body, dict):
        measure_deal_clock(dec, body.get("openTimestamp"), frame.ts)
    deal = _deal(dec, body, "open")
    if deal is None:
        dec.counters["malformed:deal"] += 1
        return []
    _take_order(st, body)
    dec.counters["deals"] += 1
    dec.counters["events"] += 1
    return [Event("deal", frame.ts, deal)]


def on_closed(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``successcloseOrder``: ``{profit, deals: [...]}`` (the broker's form) or a bare list (older clients')."""
    rows = body.get("deals") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        dec.counters["malformed:deal"] += 1
        return []
    for row in rows:
        if isinstance(row, dict) and row.get("closeTimestamp") is not None:
            measure_deal_clock(dec, row.get("closeTimestamp"), frame.ts)
            break
    out: list[Output] = []
    for row in rows:
        deal = _deal(dec, row, "closed")
        if deal is None:
            dec.counters["malformed:deal"] += 1
        else:
            out.append(Event("deal", frame.ts, deal))
    dec.counters["deals"] += len(out)
    dec.counters["events"] += len(out)
    return out


def on_failed(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``failopenOrder``: the broker refused an order; described from the page's own request."""
    if isinstance(body, str):
        body = {"error": body}
    if not isinstance(body, dict):
        dec.counters["malformed:deal"] += 1
        return []
    order = _take_order(st, body) or {}
    asset = body.get("asset")
    if not isinstance(asset, str) or not asset:
        asset = order.get("asset")
    amount = num(body.get("amount"))
    is_demo = flag(body.get("isDemo"))
    deal: dict[str, Any] = dict.fromkeys(DEAL_FIELDS)
    deal.update(
        {
            "state": "failed",
            "asset": asset,
            "direction": order.get("direction"),
            "amount": amount if amount is not None else order.get("amount"),
            "is_demo": is_demo if is_demo is not None else order.get("is_demo"),
            "error": _error_text(body.get("error")),
            # The broker's refusal names no request; the page's own order does.
            "request_id": request_id(order.get("request_id")),
        }
    )
    dec.counters["deals_failed"] += 1
    dec.counters["events"] += 1
    return [Event("deal", frame.ts, deal)]


def on_opened_list(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``updateOpenedDeals``: every open deal, possibly none."""
    return _deal_list(dec, frame, body, "open")


def on_closed_list(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """``updateClosedDeals``: the recent closed deals, possibly none."""
    return _deal_list(dec, frame, body, "closed")


def _deal_list(dec: DecoderState, frame: Frame, body: Any, state: str) -> list[Output]:
    if not isinstance(body, list):
        dec.counters["malformed:deal_list"] += 1
        return []
    deals = []
    for row in body:
        deal = _deal(dec, row, state)
        if deal is None:
            dec.counters["malformed:deal"] += 1
        else:
            deals.append(deal)
    dec.counters["events"] += 1
    return [Event("deals", frame.ts, {"state": state, "deals": deals})]


def _error_text(error: Any) -> str:
    # The broker's reason is a sentence; anything else is shown as its type, never expanded.
    if error is None:
        return ""
    if isinstance(error, str | int | float | bool):
        return str(error)[:MAX_ERROR_LEN]
    return type(error).__name__


# ---------------------------------------------------------------------- the deals' clock


def measure_deal_clock(dec: DecoderState, broker_ts: Any, wall_ts: float) -> None:
    """Learn the deals' clock from an order opened or closed just now.

    Whether deal times run ahead of UTC like tick times is not known (protocol notes §9), so
    the decoder measures it on its own: the broker's time of an order that has just opened
    (or closed) minus the capture time of the frame that says so, rounded to 30 minutes.
    """
    if dec.deal_offset is not None:
        return
    t = broker_time(broker_ts)
    if t is None:
        return
    gap = t - wall_ts
    if not (math.isfinite(gap) and abs(gap) <= MAX_OFFSET):
        dec.counters["deal_offset_implausible"] += 1
        return
    dec.deal_offset = round(gap / OFFSET_STEP) * OFFSET_STEP
    dec.counters["deal_offset_measured"] += 1


def _deal_clock(dec: DecoderState) -> float:
    if dec.deal_offset is not None:
        return dec.deal_offset
    # Nothing measured yet (a list of deals before any order): take the deal times as UTC.
    dec.counters["deal_offset_assumed"] += 1
    return 0.0


def request_id(value: Any) -> str | None:
    """The broker's ``requestId`` (a UUID or a number) as text, so an order finds its deal.

    Deals no page asked for (the older closed-deal form) carry 0: no request at all.
    """
    if type(value) is int and value != 0:
        return str(value)
    if isinstance(value, str) and value and len(value) <= MAX_DEAL_ID_LEN:
        return value
    return None


def _deal_id(obj: dict[str, Any]) -> str | None:
    deal_id = obj.get("id")
    uuid = obj.get("uuid")
    if isinstance(uuid, str) and uuid and not isinstance(deal_id, str):
        deal_id = uuid  # the older form: an integer id plus a uuid
    elif type(deal_id) is int:
        deal_id = str(deal_id)
    if not isinstance(deal_id, str) or not deal_id or len(deal_id) > MAX_DEAL_ID_LEN:
        return None
    return deal_id


def _deal(dec: DecoderState, obj: Any, state: str) -> dict[str, Any] | None:
    """A deal object → the published deal, or None when it lacks an id, asset or amount."""
    if not isinstance(obj, dict):
        return None
    deal_id = _deal_id(obj)
    asset = obj.get("asset")
    amount = num(obj.get("amount"))
    if deal_id is None or not isinstance(asset, str) or not asset or amount is None or amount < 0:
        return None
    off = _deal_clock(dec)
    closed = state == "closed"
    currency = obj.get("currency")
    return {
        "state": state,
        "id": deal_id,
        "asset": asset,
        "direction": direction(obj.get("command"), obj.get("action")),
        "amount": amount,
        "open_time": deal_time(obj.get("openTimestamp"), obj.get("openMs"), obj.get("openTime"), off),
        "close_time": deal_time(obj.get("closeTimestamp"), obj.get("closeMs"), obj.get("closeTime"), off),
        "open_price": num(obj.get("openPrice")),
        # While open the broker sends closePrice 0 and profit = the profit a win would make.
        "close_price": num(obj.get("closePrice")) if closed else None,
        "profit": num(obj.get("profit")) if closed else None,
        "payout_percent": num(obj.get("percentProfit")),
        "is_demo": flag(obj.get("isDemo")),
        "currency": currency if isinstance(currency, str) and currency else None,
        "request_id": request_id(obj.get("requestId")),
    }


# ---------------------------------------------------------------------- the page's orders


def on_order_sent(dec: DecoderState, st: SocketState, frame: Frame, body: Any) -> list[Output]:
    """A page's ``openOrder``: kept, to describe the order if the broker refuses it."""
    dec.counters["orders_sent"] += 1
    if isinstance(body, dict):
        asset = body.get("asset")
        st.orders.append(
            {
                "request_id": body.get("requestId"),
                "asset": asset if isinstance(asset, str) else None,
                "amount": num(body.get("amount")),
                "direction": direction(None, body.get("action")),
                "is_demo": flag(body.get("isDemo")),
            }
        )
    return []


def _take_order(st: SocketState, body: Any) -> dict[str, Any] | None:
    """The page's order this answer is about (by requestId, else by asset and amount)."""
    if not st.orders or not isinstance(body, dict):
        return None
    rid = body.get("requestId")
    asset = body.get("asset")
    amount = num(body.get("amount"))
    match = None
    if rid is not None and rid != 0:
        match = next((o for o in st.orders if o["request_id"] == rid), None)
    if match is None:
        match = next(
            (
                o
                for o in st.orders
                if (asset is None or o["asset"] == asset) and (amount is None or o["amount"] == amount)
            ),
            None,
        )
    if match is not None:
        st.orders.remove(match)
    return match
