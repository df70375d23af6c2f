"""Settings of the backtest service (``qf backtest-service``) and of ``qf backtest``."""

from __future__ import annotations

from pydantic import Field, field_validator

from quantumflux.bus.config import BusSettings


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
    dask_scheduler: str | None = Field(
        default=None,
        description=(
            "Dask scheduler that runs sweeps, tcp://host:port (QF_DASK_SCHEDULER); unset: a local"
            " cluster of one worker per core for big sweeps, this process for small ones."
        ),
    )

    @field_validator("dask_scheduler")
    @classmethod
    def _scheduler_address(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            return None
        if v is not None and "://" not in v:
            raise ValueError("the Dask scheduler is an address such as tcp://127.0.0.1:8786")
        return v
