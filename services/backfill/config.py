"""Settings of ``qf backfill`` and ``qf collect``: the bus, the page bridge, and how politely to ask."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from quantumflux.bridge.config import BridgeSettings
from quantumflux.bus.config import BusSettings


class BackfillSettings(BusSettings, BridgeSettings):
    """Where history lands and how it is asked for (``QF_`` environment variables, flags override).

    Chrome's address, the broker's socket pattern and the pace are the page bridge's own settings:
    the backfill asks through that bridge, so one ``QF_BRIDGE_PACE`` governs both.
    """

    model_config = SettingsConfigDict(env_prefix="QF_", frozen=True, extra="forbid")

    backfill_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the broker's answer to one page (QF_BACKFILL_TIMEOUT).",
    )
    backfill_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Times a page is asked again after no answer (QF_BACKFILL_RETRIES).",
    )
    backfill_chunk_size: int = Field(
        default=100, ge=1, description="Candles per collected file before a new one (QF_BACKFILL_CHUNK_SIZE)."
    )
    broker_utc_offset: float | None = Field(
        default=None,
        description="Seconds the broker's clock runs ahead of UTC (QF_BROKER_UTC_OFFSET, as ingest); "
        "empty: measured from one page in the past.",
    )
