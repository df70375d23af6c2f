"""Running the gateway: checks, heartbeat, uvicorn, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

from services.bus.config import check_environment
from services.gateway.config import GatewaySettings, is_loopback

log = logging.getLogger("qf.gateway")

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class GatewayConfigError(RuntimeError):
    """Settings the gateway refuses to run with."""


def check_settings(settings: GatewaySettings) -> None:
    """Refuse unsafe settings: reachable from outside without a token."""
    if settings.needs_token() and not settings.api_token:
        where = "" if is_loopback(settings.gateway_host) else f" on {settings.gateway_host}"
        raise GatewayConfigError(
            f"The gateway would be reachable by others{where} without a token. "
            "Set QF_API_TOKEN to a long random secret (browsers then send it), "
            "or listen on 127.0.0.1 only (QF_GATEWAY_HOST=127.0.0.1)."
        )


def resolve_web_dir(settings: GatewaySettings) -> GatewaySettings:
    """Use the project's own web/dist when the configured relative folder is not here."""
    path = settings.gateway_web_dir
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
        return settings.model_copy(update={"gateway_web_dir": PROJECT_ROOT / path})
    return settings


def serve(settings: GatewaySettings) -> int:
    """Run the gateway until SIGTERM/SIGINT; returns the exit code."""
    import uvicorn

    from services.bus.health import Heartbeat
    from services.gateway.app import create_app

    check_environment()
    check_settings(settings)
    settings = resolve_web_dir(settings)
    app, hub = create_app(settings)

    def info() -> dict[str, Any]:
        return {
            "clients": len(hub.clients),
            "relayed": hub.relay.counters["relayed"],
            "malformed": hub.relay.counters["malformed"],
            "lag": round(hub.relay.lag, 3),
            "port": settings.gateway_port,
        }

    heartbeat = Heartbeat(settings, "gateway", info=info).start()
    log.info("Gateway on http://%s:%d", settings.gateway_host, settings.gateway_port)
    # uvicorn stops gracefully on SIGTERM/SIGINT and then raises the signal again for the handler
    # that was there before it; with the default handler that kills the process (exit -15) before
    # the heartbeat is removed. A handler that does nothing lets run() return normally.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        uvicorn.run(
            app,
            host=settings.gateway_host,
            port=settings.gateway_port,
            log_level="warning",
            loop="asyncio",
            lifespan="on",
            timeout_graceful_shutdown=3,
        )
    finally:
        heartbeat.stop()
    return 0
