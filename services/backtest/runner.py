"""One backtest request, the same for ``qf backtest --json`` and ``POST /backtests``.

The shells (cli.py, app.py) turn what the user typed or sent into a :class:`BacktestRequest` and
resolved datasets and strategy; :func:`execute` runs it and returns plain JSON-ready values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantumflux.files import datasets
from quantumflux.files.payouts import PayoutHistory, payout_history

from . import analysis, engine, metrics
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
    payout: float = Field(
        default=0.92,
        gt=0,
        le=10,
        description="Profit per unit staked on a win; with payout_mode history, before the first known change.",
    )
    payout_mode: Literal["fixed", "history"] = Field(
        default="fixed",
        description="fixed: every win pays payout; history: the broker's payout in force at each entry.",
    )
    include_incomplete: bool = Field(
        default=False,
        description="Trade on incomplete candles too (by default they are left out, like missing ones).",
    )
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


@dataclass(frozen=True)
class _Plan:
    """What a request runs on every dataset, resolved once."""

    request: BacktestRequest
    strategy: Strategy
    params: dict[str, Any]
    config: engine.EngineConfig
    others: list[Strategy]
    ranges: dict[str, list[Any]]
    progress: Progress | None


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
    plan = _Plan(
        request=request,
        strategy=strategy,
        params=strategy.resolve(request.params),
        config=request.engine_config(),
        others=[get_strategy(name) for name in request.compare],
        ranges={k: analysis.parse_range(k, v) for k, v in request.grid.items()},
        progress=progress,
    )
    results = []
    for ds in resolved:
        candles, report = datasets.load(ds)
        if not request.include_incomplete:
            candles = datasets.drop_incomplete(candles)
        if max_candles is not None and len(candles) > max_candles:
            raise analysis.AnalysisError(
                f"dataset {ds.id} has {len(candles)} candles; this service takes at most {max_candles}"
            )
        if keep is not None:
            keep[ds.id] = candles
        results.append(_on_dataset(plan, ds, candles, report))
    return {
        "strategy": strategy.name,
        "params": plan.params,
        "engine": plan.config.as_dict(),
        "results": results,
    }


def _on_dataset(
    plan: _Plan, ds: datasets.Dataset, candles: Any, report: datasets.DataReport
) -> dict[str, Any]:
    """The backtest of one dataset, and the comparisons and analyses the request asks for."""
    request, strategy, params, config = plan.request, plan.strategy, plan.params, plan.config
    if request.payout_mode == "history":
        config = dataclasses.replace(config, history=_history_of(ds))
    tf = ds.timeframe or (report.timeframe.seconds if report.timeframe.fits else None)
    trades, m = analysis.run_one(candles, strategy, params, config, tf)
    data = report.as_dict() | {"incomplete_skipped": 0 if request.include_incomplete else report.incomplete}
    result: dict[str, Any] = {
        "dataset": ds.describe() | {"data": data},
        "strategy": strategy.name,
        "params": params,
        "engine": config.as_dict(),
        "payout": payout_used(config, trades),
        "metrics": m,
        "trades": trades.rows(request.max_trades),
        "equity": [
            [int(t), float(b)]
            for t, b in zip(trades.expiry_time.tolist(), trades.balance.tolist(), strict=True)
        ],
    }

    def step(name: str) -> analysis.Progress | None:
        progress = plan.progress
        return (lambda done, total: progress(f"{name} {ds.id}", done, total)) if progress else None

    if plan.others:
        runs = [(strategy, params)] + [(s, {}) for s in plan.others]
        result["compare"] = analysis.compare(candles, runs, config, tf, step("compare"))
    wf = request.walk_forward
    if plan.ranges and wf is None:
        result["grid"] = analysis.grid(
            candles, strategy, params, plan.ranges, config, tf, request.metric, step("grid")
        )
    if wf is not None:
        result["walk_forward"] = analysis.walk_forward(
            candles,
            strategy,
            params,
            plan.ranges,
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
    return result


def _history_of(ds: datasets.Dataset) -> PayoutHistory:
    """The payout changes of the dataset's asset (none for a file named on the command line)."""
    if ds.root is None:
        return PayoutHistory.of([])
    return payout_history(ds.root, ds.asset)


def payout_used(config: engine.EngineConfig, trades: engine.Trades) -> dict[str, Any]:
    """Which payout the contracts were paid at, in figures and in one line for a person (pure)."""
    fixed = float(config.payout)
    if config.history is None:
        return {"mode": "fixed", "payout": fixed, "text": f"fixed payout {fixed:g}"}
    used = trades.payout
    out: dict[str, Any] = {
        "mode": "history",
        "changes": len(config.history),
        "min": float(used.min()) if len(used) else None,
        "avg": float(used.mean()) if len(used) else None,
        "max": float(used.max()) if len(used) else None,
        "fixed_payout": fixed,
        "fixed_trades": trades.fixed_payouts,
    }
    if not len(used):
        text = f"payout history ({out['changes']} changes): no trades"
    else:
        text = f"payout history: min {out['min']:g}, avg {out['avg']:.4g}, max {out['max']:g}"
    if trades.fixed_payouts:
        text += f"; {trades.fixed_payouts} trades before the first known change used the fixed {fixed:g}"
    out["text"] = text
    return out


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics of one result without the per-hour table (for summaries)."""
    return {k: v for k, v in result["metrics"].items() if k != "by_hour"}


__all__ = ["BacktestRequest", "WalkForward", "execute", "headline", "metrics", "payout_used"]
