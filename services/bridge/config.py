"""Settings of the page bridge: where Chrome is, which socket is the broker's, how fast to ask."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Whoever reaches the debugging port controls the browser and the account logged into it.
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class BridgeSettings(BaseSettings):
    """What the bridge needs to find the broker's socket in the trader's Chrome."""

    model_config = SettingsConfigDict(env_prefix="QF_", frozen=True, extra="forbid")

    chrome_url: str = Field(
        default="http://127.0.0.1:9222",
        description="Chrome's remote-debugging address (QF_CHROME_URL); loopback only.",
    )
    ws_url_pattern: str | None = Field(
        default=None,
        description="Regular expression of the broker's WebSocket URLs (QF_WS_URL_PATTERN); "
        "empty means the broker's known hosts plus the simulator, as ingest uses.",
    )
    bridge_pace: float = Field(
        default=0.5,
        ge=0,
        description="Least seconds between two frames sent through the page (QF_BRIDGE_PACE); the "
        "broker has blocked accounts that asked for history faster.",
    )
    bridge_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for Chrome's answers, and for the page to reopen its socket "
        "after a reconnect (QF_BRIDGE_TIMEOUT).",
    )

    @field_validator("ws_url_pattern", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("chrome_url")
    @classmethod
    def _loopback_http(cls, v: str) -> str:
        v = v.rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
            raise ValueError(
                "QF_CHROME_URL must be Chrome's debugging address on this machine, like http://127.0.0.1:9222"
            )
        return v
