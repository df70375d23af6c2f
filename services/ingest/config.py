"""Settings of the ingest service (capture from Chrome, decode, publish)."""

from __future__ import annotations

from pydantic import Field, field_validator

from quantumflux.bus.config import BusSettings


class IngestSettings(BusSettings):
    """Where Chrome is, which sockets are the broker's, how much to buffer while Redis is away."""

    chrome_url: str = Field(
        default="http://127.0.0.1:9222",
        description="Chrome's remote-debugging address (QF_CHROME_URL); keep it on loopback.",
    )
    ws_url_pattern: str | None = Field(
        default=None,
        description="Regular expression of the broker's WebSocket URLs (QF_WS_URL_PATTERN); "
        "empty means the broker's known hosts plus the simulator.",
    )
    broker_utc_offset: float | None = Field(
        default=None,
        description="Seconds the broker's clock runs ahead of UTC (QF_BROKER_UTC_OFFSET); "
        "empty means measure it from the capture time.",
    )
    ingest_buffer: int = Field(
        default=100_000,
        ge=1,
        description="Records kept while Redis is away (QF_INGEST_BUFFER); past it the oldest are dropped.",
    )
    source: str = Field(default="cdp", description="cdp, sim or replay:FILE (QF_SOURCE).")
    speed: str = Field(default="1", description="Replay speed: a factor of real time, or max.")
    open_url: str | None = Field(
        default=None,
        description="A page to open in a new tab once attached, unless a tab shows it already "
        "(QF_OPEN_URL); the demo opens the simulated broker this way so no early frame is missed.",
    )
    chrome_ping_interval: float = Field(default=2.0, gt=0, description="Seconds between browser checks.")
    # Generous: giving up on a busy (not hung) Chrome drops the frames it is about to deliver.
    chrome_ping_timeout: float = Field(
        default=6.0, gt=0, description="Seconds the browser gets to answer a check."
    )
    publish_batch: int = Field(
        default=1000, ge=1, description="Most records sent to Redis in one round trip."
    )
    ticks_maxlen: int = Field(
        default=2_000_000,
        ge=1000,
        description="Last-resort length cap of each tick stream (reported loudly when it bites).",
    )
    ticks_keep: int = Field(
        default=100_000, ge=0, description="Newest ticks kept per stream even when every reader has them."
    )
    replay_max_lag: int = Field(
        default=100_000,
        ge=0,
        description="A replay pauses while a reader (consumer group) is this many ticks behind; 0: never.",
    )
    trim_interval: float = Field(default=30.0, gt=0, description="Seconds between stream trims.")

    @field_validator("ws_url_pattern", "open_url", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("chrome_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.rstrip("/")
        if not v.startswith(("http://", "https://")):
            raise ValueError("QF_CHROME_URL must look like http://127.0.0.1:9222")
        return v

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: str) -> str:
        parse_speed(v)
        return v


def parse_speed(text: str) -> float | None:
    """A replay speed: a positive factor of real time, or None for ``max`` (as fast as possible)."""
    if str(text).strip().lower() == "max":
        return None
    try:
        val = float(text)
    except ValueError:
        raise ValueError(f"speed must be a number like 1 or 10, or max; got {text!r}") from None
    if not val > 0:
        raise ValueError(f"speed must be more than 0, got {text!r}")
    return val
