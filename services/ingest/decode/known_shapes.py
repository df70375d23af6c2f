"""The shapes of the events the decoder reads, as the broker sends them today, variants included.

One entry per event the decoder reads (the tables in :mod:`.events`), and the events it leaves
alone on purpose. A body that does not have its event's shape, or an event named in neither
list, is protocol drift (:mod:`.drift`): the broker changed something, and candles may go
missing before anyone sees why. When the broker's new form is understood and the decoder reads
it, it is declared here as one more variant.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantumflux.ingest.decode.shapes import (
    BOOL,
    NULL,
    NUMBER,
    TEXT,
    Anything,
    Fields,
    Rows,
    Shape,
    either,
    tuple_of,
    value,
)

# How an event came: a text event, a binary event (a header, then its body in the next binary
# frame), or a binary body with no header (its event guessed from its shape).
TEXT_EVENT = "42"
BINARY_EVENT = "451-"
BARE_BINARY = "binary"

NUM = value(NUMBER)
STR = value(TEXT)
# The broker's 0/1 flags; some clients send true/false.
FLAG = value(NUMBER, BOOL)
# Ids and counters the broker sends as numbers and sometimes as text.
ID = value(NUMBER, TEXT)


@dataclass(frozen=True, slots=True)
class KnownEvent:
    """An event's known body and the framings it comes in.

    ``busy`` marks an event that arrives several times a second: its bodies are compared on a
    sample (see :mod:`.drift`), so watching costs the tick path nothing.
    """

    shape: Shape
    framings: frozenset[str]
    busy: bool = False


MARKET = frozenset({BINARY_EVENT, BARE_BINARY})
# Balance and deals come as binary events and as text (protocol notes §1.5, §6).
ACCOUNT = frozenset({BINARY_EVENT, TEXT_EVENT, BARE_BINARY})
FROM_PAGE = frozenset({TEXT_EVENT})

# ---------------------------------------------------------------------- market data

# [asset, time, price]
TICK = tuple_of(STR, NUM, NUM)
# updateHistoryNewFast's history: [time, price], some clients see [time, price, null].
HISTORY_TICK = tuple_of(NUM, NUM, value(NUMBER, NULL), min_len=2)
# [time, open, close, high, low(, volume)]
CANDLE_ROW = tuple_of(NUM, NUM, NUM, NUM, NUM, NUM, min_len=5)
HISTORY = Fields(
    required={"asset": STR, "history": Rows(HISTORY_TICK), "candles": Rows(CANDLE_ROW)},
    optional={"period": NUM},
)
# The paged reply's items: candle objects, or (the second format) tick items.
PAGED_CANDLE = Fields(
    required={"time": NUM, "open": NUM, "close": NUM, "high": NUM, "low": NUM},
    optional={"volume": NUM, "symbol_id": NUM, "asset": STR},
)
PAGED_TICK = Fields(required={"time": NUM, "price": NUM}, optional={"asset": STR, "symbol_id": NUM})
PAGED_HISTORY = Fields(
    required={"asset": STR, "index": ID, "data": Rows(either(PAGED_CANDLE, PAGED_TICK))},
    optional={"period": NUM},
)

# ---------------------------------------------------------------------- the platform

# The 19 fields of an updateAssets row (protocol notes §5).
ASSET_ROW = tuple_of(
    NUM,  # id
    STR,  # asset
    STR,  # label
    STR,  # type
    NUM,  # digits
    NUM,  # payout
    NUM,  # default expiration
    NUM,  # min expiration
    NUM,  # expiration step
    FLAG,  # is otc
    NUM,  # otc twin's id
    NUM,  # real twin's id
    Rows(Anything()),  # signals
    NUM,  # expiration time
    FLAG,  # active
    Rows(Fields(required={"time": NUM})),  # timeframes
    NUM,  # scheduled until
    NUM,  # shortest quick timeframe
    NUM,  # scheduled at
)
SENTIMENT = tuple_of(STR, NUM)
BALANCE = Fields(required={"isDemo": FLAG, "balance": NUM}, optional={"uid": ID})

# ---------------------------------------------------------------------- deals

DEAL = Fields(
    required={"id": ID, "asset": STR, "amount": NUM},
    optional={
        "uuid": STR,
        "uid": ID,
        "isDemo": FLAG,
        "openTime": STR,
        "closeTime": STR,
        "openTimestamp": NUM,
        "closeTimestamp": NUM,
        "openMs": NUM,
        "closeMs": NUM,
        "openPrice": NUM,
        "closePrice": NUM,
        "profit": NUM,
        "percentProfit": NUM,
        "percentLoss": NUM,
        "command": NUM,
        "requestId": value(NUMBER, TEXT, NULL),
        "optionType": NUM,
        "currency": STR,
        "copyTicket": STR,
        "isCopySignal": FLAG,
        "amountUSD": NUM,
        "amountUsd": NUM,
        "rate": NUM,
        "processUpdate": FLAG,
        "refundTime": value(TEXT, NULL),
        "refundTimestamp": value(NUMBER, NULL),
    },
)
CLOSED = either(Fields(required={"profit": NUM, "deals": Rows(DEAL)}), Rows(DEAL))
REFUSED = either(
    Fields(
        required={"error": STR},
        optional={"amount": NUM, "asset": STR, "isDemo": FLAG, "requestId": value(NUMBER, TEXT, NULL)},
    ),
    STR,
)

# ---------------------------------------------------------------------- what the page sends

CHART = Fields(required={"asset": STR, "period": NUM})
# Chart settings carry many of the app's own options; only the symbol is read.
CHART_SETTING = Fields(required={"symbol": STR}, optional={"chartPeriod": value(NUMBER, TEXT)}, open=True)
SAVED_CHARTS = Fields(required={"settings": Rows(either(CHART_SETTING, STR))})
HISTORY_REQUEST = Fields(
    required={"asset": STR, "index": ID, "period": NUM},
    optional={"time": NUM, "offset": NUM},
)
ORDER = Fields(
    required={"asset": STR, "amount": NUM, "action": STR},
    optional={"isDemo": FLAG, "requestId": ID, "optionType": NUM, "time": NUM},
)
# The trading socket's auth carries ``session``, the chart socket's ``sessionToken``.
AUTH = either(
    Fields(
        required={"session": STR, "isDemo": FLAG, "uid": ID, "platform": NUM},
        optional={"isFastHistory": FLAG, "isOptimized": FLAG},
    ),
    Fields(
        required={"sessionToken": STR, "uid": ID},
        optional={"lang": STR, "currentUrl": STR, "isChart": FLAG},
    ),
)

RECEIVED_SHAPES: dict[str, KnownEvent] = {
    "updateStream": KnownEvent(either(Rows(TICK), TICK), MARKET, busy=True),
    "updateHistoryNewFast": KnownEvent(HISTORY, MARKET),
    "updateHistoryNew": KnownEvent(HISTORY, MARKET),
    "loadHistoryPeriod": KnownEvent(PAGED_HISTORY, MARKET),
    "loadHistoryPeriodFast": KnownEvent(PAGED_HISTORY, MARKET),
    "updateAssets": KnownEvent(Rows(ASSET_ROW), MARKET),
    "chafor": KnownEvent(either(Rows(SENTIMENT), SENTIMENT), MARKET),
    "successupdateBalance": KnownEvent(BALANCE, ACCOUNT),
    "successopenOrder": KnownEvent(DEAL, ACCOUNT),
    "successcloseOrder": KnownEvent(CLOSED, ACCOUNT),
    "failopenOrder": KnownEvent(REFUSED, ACCOUNT),
    "updateOpenedDeals": KnownEvent(Rows(DEAL), ACCOUNT),
    "updateClosedDeals": KnownEvent(Rows(DEAL), ACCOUNT),
}

SENT_SHAPES: dict[str, KnownEvent] = {
    "changeSymbol": KnownEvent(CHART, FROM_PAGE),
    "saveCharts": KnownEvent(SAVED_CHARTS, FROM_PAGE),
    "loadHistoryPeriod": KnownEvent(HISTORY_REQUEST, FROM_PAGE),
    "loadHistoryPeriodFast": KnownEvent(HISTORY_REQUEST, FROM_PAGE),
    "openOrder": KnownEvent(ORDER, FROM_PAGE),
    "auth": KnownEvent(AUTH, FROM_PAGE),
}

# Events the decoder leaves alone on purpose, in either direction: they never alarm.
HARMLESS = frozenset(
    {
        # the session and keep-alive
        "successauth",
        "NotAuthorized",
        "notAuthorized",
        "auth_error",
        "ps",
        # chart and clock updates nothing is read from (protocol notes §3.3)
        "updateCharts",
        "updateTime",
        # what the page loads and subscribes to
        "assets/load",
        "indicator/load",
        "favorite/load",
        "price-alert/load",
        "subfor",
        "unsubfor",
        "subscribeSymbol",
        "unSubscribeSymbol",
        "getBalance",
        "updateBalance",
        "td/refill",
        # pending orders, never read
        "openPendingOrder",
        "successopenPendingOrder",
        "failopenPendingOrder",
        "cancelPendingOrder",
        "cancelPendingOrders",
        "successupdatePending",
        "successcancelPendingOrder",
        "failcancelPendingOrder",
        "successpending/created",
        "failpending/created",
        # the page's other features: other kinds of trade, copy and social trading, rewards
        "copyOrder",
        "successcopyOrder",
        "failcopyOrder",
        "copySignalOrder",
        "successcopySignalOrder",
        "openFreeTrade",
        "successopenFreeTrade",
        "failopenFreeTrade",
        "successcancelOrder",
        "failcancelOrder",
        "deals/double-up",
        "deals/rollover",
        "successdeals/rollover",
        "faildeals/rollover",
        "deals/ai",
        "openExpress",
        "successopenExpress",
        "failopenExpress",
        "successcloseExpress",
        "successcloseExpressDeals",
        "successupdateExpress",
        "successupdateOpenedExpresses",
        "successupdateClosedExpresses",
        "updateClosedExpresses",
        "openSocialDeal",
        "updateOpenedSocialDeals",
        "updateClosedSocialDeals",
        "social/opened-deal-info",
        "social/closed-deal-info",
        "successsocial/opened-deal-info",
        "successsocial/closed-deal-info",
        "social/enable-only-watched",
        "social/disable-only-watched",
        "updateAchievements",
        "tradingReward",
        "10NUMBER_DEALS_WITH_PROFIT",
        "user/change-platform",
        # the chart's furniture: layouts, drawings, indicators, favourites, price alerts
        "deleteChart",
        "order-chart/load",
        "successorder-chart/load",
        "drawing/create",
        "drawing/update",
        "successdrawing/create",
        "faildrawing/create",
        "successdrawing/load",
        "updateDrawingPoints",
        "deleteDrawing",
        "deleteDrawingIds",
        "deleteDrawings",
        "successdeleteDrawing",
        "lockDrawings",
        "indicator/create",
        "indicator/update",
        "indicator/delete",
        "indicator/deleteAll",
        "indicator/fav",
        "indicator/unfav",
        "indicator/setVisible",
        "successindicator/create",
        "failindicator/create",
        "successindicator/load",
        "successindicator/delete",
        "successindicator/deleteAll",
        "favorite/change",
        "successfavorite/load",
        "successfavorite/change",
        "price-alert/add",
        "price-alert/remove",
        "successprice-alert/load",
        "successprice-alert/add",
        "failprice-alert/add",
        "successprice-alert/remove",
        # trading signals and AI strategies
        "signals/load",
        "signals/update",
        "signals/stats",
        "signals/subscribe",
        "signals/unsubscribe",
        "successsignals/stats",
        "sto",
        "sts",
        "usto",
        "ai-strategy-multi/start",
        "ai-strategy-multi/stop",
        "ai-strategy-multi/get-state",
        "ai-strategy-multi/update",
        "successai-strategy-multi/start",
        "failai-strategy-multi/start",
        "successai-strategy-multi/stop",
        "failai-strategy-multi/stop",
        "successai-strategy-multi/get-state",
        "failai-strategy-multi/get-state",
    }
)
