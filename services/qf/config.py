"""Settings of the launcher (`qf up`, `qf status`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from quantumflux.bus.config import BusSettings


class UpSettings(BusSettings):
    """What `qf up` needs beyond the bus settings."""

    local_redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="Where `qf up` looks for a Redis when QF_REDIS_URL is not set.",
    )
    embedded_redis: bool = Field(default=False, description="Always start the embedded Redis.")
    restart_limit: int = Field(
        default=5, ge=0, description="Restarts of one service within a minute before giving up."
    )
    trade: Literal["off", "demo", "real"] = Field(
        default="off",
        description="Start the trader too when demo or real (QF_TRADE); real also needs --real-money.",
    )
    stop_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a service gets to stop before it is killed."
    )
