"""Settings of the persistence service (env ``QF_*``; CLI flags override)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from quantumflux.bus.config import BusSettings
from quantumflux.bus.timeframes import parse_timeframes

Collect = Literal["tick", "candle", "both", "none"]


class PersistenceSettings(BusSettings):
    """What is written to CSV files and how files are cut."""

    persist: Collect = Field(
        default="both", description="What is written: tick, candle, both or none (QF_PERSIST)."
    )
    candle_chunk: int = Field(default=100, ge=1, description="Candle rows per file (QF_CANDLE_CHUNK).")
    tick_chunk: int = Field(default=1000, ge=1, description="Tick rows per file (QF_TICK_CHUNK).")
    payout_chunk: int = Field(default=1000, ge=1, description="Payout rows per file (QF_PAYOUT_CHUNK).")
    order_chunk: int = Field(default=1000, ge=1, description="Order rows per file (QF_ORDER_CHUNK).")
    timeframes: str | None = Field(
        default=None,
        description="Bar timeframes to follow even before their stream exists, e.g. '1m,5m' (QF_TIMEFRAMES).",
    )
    persist_batch: int = Field(
        default=20_000, ge=1, description="Most stream entries written with one fsync per file."
    )
    discover_interval: float = Field(
        default=5.0, gt=0, description="Seconds between looks for new bar streams and at the backlog."
    )
    lag_warning: int = Field(
        default=100_000,
        ge=1,
        description="Entries waiting to be written before 'falling behind' is reported.",
    )

    @field_validator("timeframes")
    @classmethod
    def _timeframes_readable(cls, v: str | None) -> str | None:
        if v:
            parse_timeframes(v.replace(" ", ","))  # a TimeframeError (a ValueError) says what is wrong
        return v

    @property
    def collect_ticks(self) -> bool:
        """True when tick rows are written."""
        return self.persist in ("tick", "both")

    @property
    def collect_candles(self) -> bool:
        """True when closed candles are written."""
        return self.persist in ("candle", "both")

    @property
    def collect_payouts(self) -> bool:
        """True when the broker's payout changes are written (whenever anything is)."""
        return self.persist != "none"

    @property
    def collect_orders(self) -> bool:
        """True when every change of every order is written (the audit files; whenever anything is)."""
        return self.persist != "none"
