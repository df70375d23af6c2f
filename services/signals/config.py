"""Settings of the signals service (``qf signals-service``) and of the terminal view (``qf signals``).

Which strategies run where is one text, ``QF_SIGNALS``, or a JSON/YAML file, ``QF_SIGNALS_FILE``
(the file wins when both are set; it is re-read when it changes or on SIGHUP). See
``docs/signals.md`` and :mod:`quantumflux.signals.spec` for the grammar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from quantumflux.bus.config import BusSettings, listed

DEFAULT_SIGNALS = "quantum_flux@*:1m"


class SignalsSettings(BusSettings):
    """Strategies to run and the paper-trading rules (the backtest engine's settings)."""

    signals: str = Field(
        default=DEFAULT_SIGNALS,
        description="Strategies on assets and timeframes, e.g. 'quantum_flux@*:1m;sma_cross(fast=5,slow=20)@EURUSD_otc:5m' (QF_SIGNALS).",
    )
    signals_file: Path | None = Field(
        default=None,
        description="JSON or YAML file with the strategies; re-read on change (QF_SIGNALS_FILE).",
    )
    signals_window: int = Field(
        default=5000,
        ge=10,
        le=1_000_000,
        description="Closed candles kept per asset and timeframe (at least each strategy's lookback) (QF_SIGNALS_WINDOW).",
    )
    signals_reload: float = Field(
        default=1.0, gt=0, description="Seconds between looks at the strategies file (QF_SIGNALS_RELOAD)."
    )
    signals_batch: int = Field(
        default=500, ge=1, le=100_000, description="Stream entries handled per checkpoint (QF_SIGNALS_BATCH)."
    )
    signals_maxlen: int = Field(
        default=100_000,
        ge=100,
        description="About how many entries qf:signals and qf:paper keep (QF_SIGNALS_MAXLEN).",
    )
    include_incomplete: bool = Field(
        default=False,
        description="Run strategies on incomplete candles too; by default they count as missing (QF_INCLUDE_INCOMPLETE).",
    )
    paper_expiry: int = Field(
        default=1, ge=1, le=10_000, description="Contract length in candles (QF_PAPER_EXPIRY)."
    )
    paper_payout: float = Field(
        default=0.92,
        gt=0,
        le=10,
        description="Payout per unit staked when the broker's asset list has none (QF_PAPER_PAYOUT).",
    )
    paper_broker_payout: bool = Field(
        default=True,
        description="Use the payout from the broker's asset list when known (QF_PAPER_BROKER_PAYOUT).",
    )
    paper_min_confidence: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Signals below this confidence open no contract (QF_PAPER_MIN_CONFIDENCE).",
    )
    paper_overlap: bool = Field(
        default=False, description="Allow several open contracts per asset and strategy (QF_PAPER_OVERLAP)."
    )
    paper_stake: float = Field(default=1.0, gt=0, description="Fixed stake per contract (QF_PAPER_STAKE).")
    paper_fraction: float | None = Field(
        default=None, gt=0, le=1, description="Stake as a share of the balance instead (QF_PAPER_FRACTION)."
    )
    paper_balance: float = Field(
        default=1000.0, gt=0, description="Starting balance of each paper account (QF_PAPER_BALANCE)."
    )
    # The trader's risk limits, for paper accounts too (the same rules, in quantumflux.risk); unset
    # is no limit, so by default a paper account trades exactly as a backtest does.
    paper_daily_loss: float | None = Field(
        default=None,
        gt=0,
        description="A paper account stops for the day once its loss today (UTC, candle time) reaches this (QF_PAPER_DAILY_LOSS).",
    )
    paper_max_losses: int | None = Field(
        default=None,
        ge=1,
        description="A paper account stops after this many losses in a row (QF_PAPER_MAX_LOSSES).",
    )
    paper_max_per_hour: int | None = Field(
        default=None,
        ge=1,
        description="Most contracts a paper account opens in any hour (QF_PAPER_MAX_PER_HOUR).",
    )
    paper_assets: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Assets paper accounts may trade, e.g. 'EURUSD_otc,GBPUSD_otc'; empty: every asset (QF_PAPER_ASSETS).",
    )
    paper_min_payout: float = Field(
        default=0.0,
        ge=0,
        le=10,
        description="Lowest payout a paper contract accepts, 0.8 = 80 % (QF_PAPER_MIN_PAYOUT).",
    )

    @field_validator("paper_assets", mode="before")
    @classmethod
    def _assets_listed(cls, value: Any) -> Any:
        return listed(value, ",")
