"""Settings of the gateway (``QF_GATEWAY_*``, ``QF_API_TOKEN``, ``QF_ALLOWED_ORIGINS``, ``QF_BACKTEST_URL``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field

from quantumflux.bus.config import BusSettings


class GatewaySettings(BusSettings):
    """Where the gateway listens, who may use it, and how it treats slow browsers."""

    gateway_host: str = Field(default="127.0.0.1", description="Address to listen on (QF_GATEWAY_HOST).")
    gateway_port: int = Field(default=3001, ge=0, le=65535, description="Port (QF_GATEWAY_PORT).")
    api_token: str | None = Field(
        default=None,
        description="Token browsers and tools must send when the gateway is reachable from outside.",
    )
    gateway_require_token: bool = Field(
        default=False, description="Ask for the token even on a loopback address (QF_GATEWAY_REQUIRE_TOKEN)."
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to connect; empty means the gateway's own.",
    )
    backtest_url: str = Field(default="http://127.0.0.1:3002", description="The backtest service.")
    backtest_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for a backtest.")
    gateway_web_dir: Path = Field(default=Path("web/dist"), description="The built web app to serve at /.")
    gateway_history_limit: int = Field(
        default=1000, ge=1, le=5000, description="Closed candles sent as history when a stream starts."
    )
    gateway_queue_size: int = Field(
        default=2000, ge=10, description="Messages a browser may have waiting before it counts as too slow."
    )
    gateway_slow_seconds: float = Field(
        default=10.0, gt=0, description="How long a browser may stay over half its queue before it is let go."
    )
    gateway_send_backlog: int = Field(
        default=64,
        ge=1,
        description="Messages handed to the socket but not yet written, before coalescing starts.",
    )
    gateway_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between looks for new timeframes, heartbeats and Redis health.",
    )

    def needs_token(self) -> bool:
        """True when the gateway must ask for the API token (bound beyond loopback, or told to)."""
        return self.gateway_require_token or not is_loopback(self.gateway_host)

    def origins(self) -> list[str]:
        """Allowed browser origins: the configured ones, else the gateway's own address."""
        configured = [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        if configured:
            return configured
        port = self.gateway_port
        hosts = {self.gateway_host}
        if is_loopback(self.gateway_host):
            hosts |= {"127.0.0.1", "localhost"}
        return sorted(f"http://{h}:{port}" for h in hosts)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
