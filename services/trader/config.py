"""Settings of automated trading (``QF_TRADE``, the risk limits, notifications).

Trading is off unless ``QF_TRADE`` says ``demo`` or ``real``; ``real`` also needs the real-money
confirmation on the command line, which is not a setting on purpose: an environment variable
left behind must never be enough to trade real money.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from quantumflux.bus.config import BusSettings, listed
from quantumflux.risk.rules import RiskLimits

TRADE_MODES = ("off", "demo", "real")


class TraderSettings(BusSettings):
    """Whether and how orders are placed: the mode, the risk limits, the signals' freshness."""

    trade: Literal["off", "demo", "real"] = Field(
        default="off", description="Place orders: off, demo (a demo account only) or real (QF_TRADE)."
    )
    trade_stake: float = Field(default=1.0, gt=0, description="Fixed stake per order (QF_TRADE_STAKE).")
    trade_fraction: float | None = Field(
        default=None, gt=0, le=1, description="Stake as a share of the balance instead (QF_TRADE_FRACTION)."
    )
    trade_min_stake: float = Field(
        default=1.0, ge=0, description="Smallest amount the broker takes (QF_TRADE_MIN_STAKE)."
    )
    trade_max_open: int = Field(
        default=1, ge=1, le=100, description="Most orders open at once (QF_TRADE_MAX_OPEN)."
    )
    trade_daily_loss: float = Field(
        default=10.0,
        gt=0,
        description="Trading stops once today's loss (UTC day) reaches this (QF_TRADE_DAILY_LOSS).",
    )
    trade_max_per_hour: int = Field(
        default=30, ge=1, description="Most orders sent in any hour (QF_TRADE_MAX_PER_HOUR)."
    )
    trade_max_losses: int = Field(
        default=5, ge=1, description="Trading stops after this many losses in a row (QF_TRADE_MAX_LOSSES)."
    )
    trade_assets: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Assets that may be traded, e.g. 'EURUSD_otc,GBPUSD_otc'; empty: every asset (QF_TRADE_ASSETS).",
    )
    trade_min_payout: float = Field(
        default=0.8, ge=0, le=10, description="Lowest live payout accepted, 0.8 = 80 % (QF_TRADE_MIN_PAYOUT)."
    )
    trade_min_confidence: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Signals below this confidence place nothing (QF_TRADE_MIN_CONFIDENCE).",
    )
    trade_max_lateness: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="Seconds after its candle's close a signal may still be traded (QF_TRADE_MAX_LATENESS).",
    )
    trade_expiry: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Order length in candles of the signal's timeframe (QF_TRADE_EXPIRY).",
    )
    trade_order_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for the broker's answer before an order's fate is unknown (QF_TRADE_ORDER_TIMEOUT).",
    )
    trade_screenshots: bool = Field(
        default=False, description="Keep a screenshot of the page at every order (QF_TRADE_SCREENSHOTS)."
    )
    notify: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Apprise URLs told of every order and stop, separated by spaces (QF_NOTIFY)."
    )

    @field_validator("trade_assets", mode="before")
    @classmethod
    def _assets_listed(cls, value: Any) -> Any:
        return listed(value, ",")

    @field_validator("notify", mode="before")
    @classmethod
    def _urls_listed(cls, value: Any) -> Any:
        # Apprise URLs may hold commas in their query, never white space.
        return listed(value, "")

    def limits(self) -> RiskLimits:
        """The risk rules these settings ask for."""
        return RiskLimits(
            stake=self.trade_stake,
            fraction=self.trade_fraction,
            min_stake=self.trade_min_stake,
            max_open=self.trade_max_open,
            daily_loss=self.trade_daily_loss,
            max_per_hour=self.trade_max_per_hour,
            max_losses=self.trade_max_losses,
            assets=frozenset(self.trade_assets),
            min_payout=self.trade_min_payout,
            min_confidence=self.trade_min_confidence,
        )
