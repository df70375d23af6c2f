"""The shapes of the gateway's REST answers, as its OpenAPI schema shows them.

Only documentation: the routes build their answers as plain values (the same ones the Socket.IO
events carry) and these models say what a client may rely on; the test of the schema checks every
answer against them. The backtest service's answers are passed on as they are, so their shapes are
that service's own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quantumflux.backtest.schemas import (
    DATASET_ID_MAX,
    DATASET_ID_PATTERN,
    BacktestResult,
    DatasetCandles,
    DatasetList,
    StrategyList,
)

__all__ = ["BacktestResult", "DatasetCandles", "DatasetList", "StrategyList"]


class Healthy(BaseModel):
    status: Literal["ok"]
    redis: Literal["connected"]
    clients: int = Field(description="Browsers connected over Socket.IO.")


class Degraded(BaseModel):
    status: Literal["degraded"]
    redis: Literal["disconnected"]


class Assets(BaseModel):
    assets: list[dict[str, Any]] = Field(description="{asset, label, payout, …}: the platform's list.")
    timeframes: list[str] = Field(description="Timeframes that can be streamed, shortest first.")


class LiveCandle(BaseModel):
    asset: str
    timeframe: str
    time: int = Field(description="Open time, epoch seconds.")
    open: float
    high: float
    low: float
    close: float
    ticks: int
    closed: bool


class History(BaseModel):
    """Closed candles oldest first, then the forming one (``closed: false``) if any."""

    asset: str
    timeframe: str
    candles: list[LiveCandle]


class SignalAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    asset: str
    timeframe: str
    direction: Literal["call", "put"]
    time: int
    confidence: float
    strategy: str
    params: dict[str, Any] | None


class Signals(BaseModel):
    signals: list[SignalAnswer]


class PaperTrade(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: Literal["open", "settle", "void"]
    id: str
    asset: str
    timeframe: str
    direction: Literal["call", "put"]


class Paper(BaseModel):
    paper: list[PaperTrade]


class Deals(BaseModel):
    balance: float | None
    is_demo: bool | None
    deals: list[dict[str, Any]] = Field(
        description="The user's deals, oldest first, each in its latest state."
    )
    open: int
    closed: int
    profit: float = Field(description="The closed deals' profit together.")


DATASET_IDS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "pattern": DATASET_ID_PATTERN, "maxLength": DATASET_ID_MAX},
    "minItems": 1,
}

# What POST /api/backtests reads (the route takes the raw body, so it can answer 400 to one that
# is not JSON); everything else in it goes to the backtest service's POST /backtests as it is.
BACKTEST_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["dataset", "strategy"],
    "properties": {
        "dataset": {"anyOf": [DATASET_IDS["items"], DATASET_IDS], "description": "Dataset id(s)."},
        "strategy": {"type": "string", "minLength": 1, "description": "A name from /api/strategies."},
        "params": {"type": "object", "description": "The strategy's parameters."},
    },
    "additionalProperties": True,
    "description": "Other fields (expiry, payout, grid, …) are those of the backtest service.",
    "examples": [{"dataset": "EURUSD_otc-1m", "strategy": "sma_cross", "params": {"fast": 5, "slow": 20}}],
}


class OrderAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    request_id: str
    asset: str
    action: Literal["call", "put"]
    amount: float
    expiry: int = Field(description="Length of the order in seconds.")
    mode: Literal["demo", "real"]
    state: Literal["requested", "open", "rejected", "closed", "unknown"]
    deal_id: str | None
    open_price: float | None
    close_price: float | None
    profit: float | None
    reason: str | None
    ts: float = Field(description="When this state was published (epoch seconds).")
    opened_at: float = Field(description="When the order opened (or was asked for, before it opened).")
    expires_at: float = Field(description="opened_at + expiry: when the order ends.")
    result: Literal["won", "lost", "refund"] | None


class Orders(BaseModel):
    orders: list[OrderAnswer] = Field(
        description="Each order once, in its newest state, oldest change first."
    )


class TradingStatus(BaseModel):
    model_config = ConfigDict(extra="allow")

    running: bool = Field(description="False when the trader publishes no status (not running).")
    mode: str = Field(description="off, demo or real.")
    state: str = Field(description="off, trading, paused or stopped.")
    reason: str | None = Field(description="Why it is not trading, in plain words.")


class Stopped(BaseModel):
    stopped: Literal[True]
    message: str = Field(description="What was done, in plain words.")
    was: str = Field(description="The trading state the gateway knew before the stop.")
    command: str = Field(description="The id of the stop command queued for the running trader.")


class BackfillRequest(BaseModel):
    """What ``POST /api/backfill`` reads: which series to fill, and how far back."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"asset": "EURUSD_otc", "timeframe": "1m", "days": 1}]},
    )

    asset: str = Field(min_length=1, max_length=100, description="The asset, as /api/assets names it.")
    timeframe: str | int = Field(description="A label (1m) or seconds (60).")
    days: float = Field(gt=0, le=366, description="How many days back from now.")


class BackfillProgress(BaseModel):
    """Where a backfill stands, as ``backfill_progress`` says it."""

    asset: str
    timeframe: str
    days: float
    state: Literal["running", "done", "failed"]
    candles: int = Field(description="Candles written so far.")
    pages: int = Field(description="Pages of history received so far.")
    pages_planned: int = Field(description="Pages to ask for (0 until the first is planned).")
    reached: int | None = Field(description="The oldest candle time held so far (epoch seconds).")
    error: str | None = Field(description="Why it failed, in plain words.")


class BackfillBusy(BaseModel):
    """A backfill of that asset and timeframe runs already."""

    error: str
    progress: BackfillProgress
