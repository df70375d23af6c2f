"""The shapes of the backtest service's answers, as its OpenAPI schema shows them.

Only documentation: the routes build their answers as plain values, and these models say what a
client may rely on (the test of the schema checks every answer against them). Light on purpose:
the gateway shows the same shapes for the answers it passes on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# What quantumflux.files.datasets.check_id accepts, in the terms of a JSON-schema pattern: a letter or
# digit, then letters, digits, '_', '-' and single dots (never '..'), 200 characters at most.
DATASET_ID_PATTERN = r"^[A-Za-z0-9](\.?[A-Za-z0-9_\-])*\.?$"
DATASET_ID_MAX = 200
# The most candles one page of GET /datasets/{id}/candles holds (listing.MAX_LIMIT).
CANDLES_PAGE_MAX = 200_000


class Health(BaseModel):
    """The service runs; its counters since it started."""

    status: Literal["ok"]
    service: str
    strategies: int = Field(description="Strategies it can run.")
    requests: int = Field(description="Backtests asked for.")
    failed: int = Field(description="Backtests refused.")
    last_run_ms: float = Field(description="How long the last backtest took.")


class StrategyInfo(BaseModel):
    """A strategy and its parameters."""

    name: str
    summary: str
    parameters: dict[str, Any] = Field(description="JSON-schema of the parameters.")


class StrategyList(BaseModel):
    strategies: list[StrategyInfo]


class DatasetInfo(BaseModel):
    """One dataset: its candles, first and last time, timeframe and gaps."""

    id: str = Field(description="The id to name it by in a backtest.")
    asset: str
    timeframe: str | None
    timeframe_seconds: int | None
    source: str
    files: int
    bytes: int
    rows: int = Field(description="Candles, a repeated time counted once.")
    start: str | None = Field(description="First candle's time, ISO 8601 UTC.")
    end: str | None
    start_time: int | None = Field(description="First candle's time, epoch seconds.")
    end_time: int | None
    gaps: int
    missing_candles: int
    problem: str | None = Field(description="The first file whose times cannot be read, and why.")


class DatasetList(BaseModel):
    datasets: list[DatasetInfo]


class DatasetCandle(BaseModel):
    time: int = Field(description="Open time, epoch seconds.")
    open: float
    high: float
    low: float
    close: float
    ticks: int


class DatasetCandles(BaseModel):
    """The newest candles of a dataset (before a time, when asked), oldest first."""

    dataset: str
    asset: str
    timeframe: str | None
    timeframe_seconds: int | None
    total: int = Field(description="Candles in the whole dataset.")
    more: bool = Field(description="Whether older candles remain.")
    candles: list[DatasetCandle]


class DatasetResult(BaseModel):
    """The backtest of one dataset, and the analyses the request asked for."""

    model_config = ConfigDict(extra="allow")

    dataset: dict[str, Any]
    strategy: str
    params: dict[str, Any]
    engine: dict[str, Any]
    metrics: dict[str, Any]
    trades: list[dict[str, Any]]
    equity: list[tuple[int, float]] = Field(description="[expiry time, balance] after each trade.")
    compare: list[dict[str, Any]] | None = None
    grid: dict[str, Any] | None = None
    walk_forward: dict[str, Any] | None = None
    monte_carlo: dict[str, Any] | None = None


class BacktestResult(BaseModel):
    """What ``qf backtest --json`` prints."""

    strategy: str
    params: dict[str, Any]
    engine: dict[str, Any]
    results: list[DatasetResult]


class JobProgress(BaseModel):
    """How far a job is: candles of the datasets run (of those loaded so far), sweep points."""

    candles_done: int
    candles_total: int
    points_done: int = Field(description="Grid points, walk-forward windows or shuffles done.")
    points_total: int = Field(description="Of the sweep steps started so far.")
    fraction: float = Field(ge=0, le=1, description="1 once the job is done.")


class JobSummary(BaseModel):
    """A job as ``GET /jobs`` lists it."""

    id: str
    kind: Literal["backtest", "grid", "walk_forward", "monte_carlo"]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: JobProgress
    created: str = Field(description="When it was submitted, ISO 8601 UTC.")
    finished: str | None = Field(description="When it ended (done, failed or cancelled).")
    error: str | None = Field(description="Why it failed, as POST /backtests would have answered.")
    request: dict[str, Any] = Field(description="The backtest it runs, with what its kind filled in.")


class JobInfo(JobSummary):
    """A job and, once done, its result: what POST /backtests answers for the same request."""

    result: BacktestResult | None


class JobList(BaseModel):
    """Every job the service keeps, the newest first."""

    jobs: list[JobSummary]


class JobCreated(BaseModel):
    """A job accepted: follow it at ``GET /jobs/{id}``."""

    id: str
    kind: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
