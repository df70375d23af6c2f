"""One backtest request, the same for ``qf backtest --json`` and ``POST /backtests``.

The shells (cli.py, app.py) turn what the user typed or sent into a :class:`BacktestRequest` and
resolved datasets and strategy; :func:`execute` runs it and returns plain JSON-ready values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import analysis, datasets, engine, metrics
from .strategies import Strategy, get_strategy

Progress = Callable[[str, int, int], None]


class WalkForward(BaseModel):
    """Walk-forward windows, in candles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: int = Field(default=1000, ge=10, description="Candles to optimise on.")
    test: int = Field(
        default=250, ge=1, description="Candles to trade with the best set, after each train window."
    )


class BacktestRequest(BaseModel):
    """What to run: datasets (ids), a strategy and its parameters, the engine settings, extras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    datasets: list[str] = Field(min_length=1, max_length=50, description="Dataset ids (GET /datasets).")
    strategy: str = "sma_cross"
    params: dict[str, float | int | str] = Field(default_factory=dict)
    expiry: int = Field(default=1, ge=1, le=10_000, description="Contract length in candles.")
    payout: float = Field(default=0.92, gt=0, le=10, description="Profit per unit staked on a win.")
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    overlap: bool = False
    stake: float = Field(default=1.0, gt=0)
    fraction: float | None = Field(default=None, gt=0, le=1, description="Stake as a share of the balance.")
    balance: float = Field(default=1000.0, gt=0)
    compare: list[str] = Field(
        default_factory=list, description="Other strategies to run beside, with defaults."
    )
    grid: dict[str, str] = Field(
        default_factory=dict, description="Parameter ranges: start:stop:step or a,b,c."
    )
    metric: str = "net_profit"
    walk_forward: WalkForward | None = None
    monte_carlo: int = Field(default=0, ge=0, le=100_000)
    ruin: float = Field(default=0.5, ge=0, lt=1)
    seed: int = 0
    max_trades: int | None = Field(
        default=None, ge=0, description="Trades listed in the result (all by default)."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_dataset(cls, data: Any) -> Any:
        # The browser's run_backtest event names one dataset: {"dataset": id, …}.
        if isinstance(data, dict) and "dataset" in data and "datasets" not in data:
            data = dict(data)
            one = data.pop("dataset")
            data["datasets"] = one if isinstance(one, list) else [one]
        return data

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        if v not in analysis.RANK_METRICS:
            raise ValueError(f"unknown metric {v!r} (use one of: {', '.join(analysis.RANK_METRICS)})")
        return v

    @model_validator(mode="after")
    def _finite(self) -> BacktestRequest:
        for key, value in self.params.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"parameter {key} must be a finite number")
        return self

    def engine_config(self) -> engine.EngineConfig:
        """The engine settings of this request."""
        return engine.EngineConfig.of(self)


def execute(
    request: BacktestRequest,
    resolved: list[datasets.Dataset],
    strategy: Strategy,
    progress: Progress | None = None,
    max_candles: int | None = None,
    keep: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the request on each dataset; plain values ready for JSON.

    Raises the loader's, the strategy's or the engine's error (each a ``ValueError`` whose
    message names the problem) before any work when the request is wrong. ``keep``, when given,
    receives each dataset's candles by id (for the HTML report).
    """
    config = request.engine_config()
    params = strategy.resolve(request.params)
    others = [get_strategy(name) for name in request.compare]
    ranges = {k: analysis.parse_range(k, v) for k, v in request.grid.items()}
    results = []
    for ds in resolved:
        candles, report = datasets.load(ds)
        if max_candles is not None and len(candles) > max_candles:
            raise analysis.AnalysisError(
                f"dataset {ds.id} has {len(candles)} candles; this service takes at most {max_candles}"
            )
        if keep is not None:
            keep[ds.id] = candles
        tf = ds.timeframe or (report.timeframe.seconds if report.timeframe.fits else None)
        trades, m = analysis.run_one(candles, strategy, params, config, tf)
        trade_rows = trades.rows(request.max_trades)
        result: dict[str, Any] = {
            "dataset": ds.describe() | {"data": report.as_dict()},
            "strategy": strategy.name,
            "params": params,
            "engine": config.as_dict(),
            "metrics": m,
            "trades": trade_rows,
            "equity": [
                [int(t), float(b)]
                for t, b in zip(trades.expiry_time.tolist(), trades.balance.tolist(), strict=True)
            ],
        }

        def step(name: str, ds_id: str = ds.id) -> analysis.Progress | None:
            return (lambda done, total: progress(f"{name} {ds_id}", done, total)) if progress else None

        if others:
            runs = [(strategy, params)] + [(s, {}) for s in others]
            result["compare"] = analysis.compare(candles, runs, config, tf, step("compare"))
        if ranges and request.walk_forward is None:
            result["grid"] = analysis.grid(
                candles, strategy, params, ranges, config, tf, request.metric, step("grid")
            )
        if request.walk_forward is not None:
            wf = request.walk_forward
            result["walk_forward"] = analysis.walk_forward(
                candles,
                strategy,
                params,
                ranges,
                config,
                tf,
                wf.train,
                wf.test,
                request.metric,
                step("walk-forward"),
            )
        if request.monte_carlo:
            result["monte_carlo"] = analysis.monte_carlo(
                trades, config, request.monte_carlo, request.seed, request.ruin, step("monte-carlo")
            )
        results.append(result)
    return {"strategy": strategy.name, "params": params, "engine": config.as_dict(), "results": results}


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics of one result without the per-hour table (for summaries)."""
    return {k: v for k, v in result["metrics"].items() if k != "by_hour"}


__all__ = ["BacktestRequest", "WalkForward", "execute", "headline", "metrics"]
