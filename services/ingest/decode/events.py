"""Which handler reads which broker event: a new event is one function, one row here and its shape in :mod:`.known_shapes`."""

from __future__ import annotations

from typing import Any

from quantumflux.ingest.decode import market, platform, trading
from quantumflux.ingest.decode.state import DecoderState, Handler, Output, SocketState
from quantumflux.ingest.frames import Frame

# Events the broker sends to the page.
RECEIVED: dict[str, Handler] = {
    "updateStream": market.on_ticks,
    "updateHistoryNewFast": market.on_history,
    "updateHistoryNew": market.on_history,
    "loadHistoryPeriod": market.on_paged_history,
    "loadHistoryPeriodFast": market.on_paged_history,
    "updateAssets": platform.on_assets,
    "successupdateBalance": platform.on_balance,
    "chafor": platform.on_sentiment,
    # The user's own deals (protocol notes §6), read passively like everything else.
    "successopenOrder": trading.on_opened,
    "successcloseOrder": trading.on_closed,
    "failopenOrder": trading.on_failed,
    "updateOpenedDeals": trading.on_opened_list,
    "updateClosedDeals": trading.on_closed_list,
}

# Events the page sends to the broker.
SENT: dict[str, Handler] = {
    "changeSymbol": platform.on_change_symbol,
    "saveCharts": platform.on_save_charts,
    "loadHistoryPeriod": market.on_history_request,
    "loadHistoryPeriodFast": market.on_history_request,
    "openOrder": trading.on_order_sent,
}

# Events the broker's sockets carry that are recognised but not published.
QUIET_EVENTS = frozenset(
    {
        "successauth",
        "updateCharts",
        "updateTime",
        "successopenPendingOrder",
        "failopenPendingOrder",
        "NotAuthorized",
        "notAuthorized",
        "auth_error",
    }
)
SENT_EVENTS = frozenset(
    {
        "auth",
        "ps",
        "subfor",
        "unsubfor",
        "subscribeSymbol",
        "unSubscribeSymbol",
        "assets/load",
        "indicator/load",
        "favorite/load",
        "price-alert/load",
        "getBalance",
        "updateBalance",
        "openOrder",
    }
)
# Names that tell a socket without a URL is the broker's (any socket may fail to authorise).
BROKER_EVENTS = (
    frozenset(RECEIVED)
    | {"changeSymbol", "saveCharts"}
    | QUIET_EVENTS - {"NotAuthorized", "notAuthorized", "auth_error"}
)
UNUSED_RECEIVED = (QUIET_EVENTS | BROKER_EVENTS) - frozenset(RECEIVED)
UNUSED_SENT = (SENT_EVENTS | BROKER_EVENTS) - frozenset(SENT)


def dispatch(
    dec: DecoderState, st: SocketState, frame: Frame, name: str, body: Any, framing: str
) -> list[Output]:
    """The records one event carries, by its handler; known events without one are only counted.

    ``framing`` says how the event came (:data:`~.known_shapes.TEXT_EVENT`, …); every event is
    also compared with its known shape, for the drift report.
    """
    dec.drift.observe(frame.dir, framing, name, body, frame.ts)
    sent = frame.dir == "sent"
    handler = (SENT if sent else RECEIVED).get(name)
    if handler is not None:
        return handler(dec, st, frame, body)
    if name in (UNUSED_SENT if sent else UNUSED_RECEIVED):
        dec.counters["unused_event:" + name] += 1
    else:
        dec.count_name("unknown_event:", name)
    return []
