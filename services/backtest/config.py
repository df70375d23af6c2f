"""Settings of the backtest service (``qf backtest-service``) and of ``qf backtest``."""

from __future__ import annotations

from pydantic import Field

from services.bus.config import BusSettings


class BacktestSettings(BusSettings):
    """Where the service listens and the defaults of a backtest run."""

    backtest_host: str = Field(
        default="127.0.0.1", description="Address the service binds (QF_BACKTEST_HOST); loopback by default."
    )
    backtest_port: int = Field(
        default=3002, ge=0, le=65535, description="Port of the service (QF_BACKTEST_PORT)."
    )
    backtest_max_candles: int = Field(
        default=5_000_000, ge=1, description="Largest dataset one request may load (QF_BACKTEST_MAX_CANDLES)."
    )
