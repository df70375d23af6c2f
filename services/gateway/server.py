"""Running the gateway: checks, heartbeat, uvicorn, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal

from quantumflux.bus.health import Heartbeat
from quantumflux.gateway.app import Gateway
from quantumflux.gateway.config import GatewaySettings, is_loopback

log = logging.getLogger("qf.gateway")


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


def serve(settings: GatewaySettings) -> int:
    """Run the gateway until SIGTERM/SIGINT; returns the exit code."""
    import uvicorn

    check_settings(settings)
    gateway = Gateway(settings)
    heartbeat = Heartbeat(settings, "gateway", info=gateway.info).start()
    log.info("Gateway on http://%s:%d", settings.gateway_host, settings.gateway_port)
    # uvicorn stops gracefully on SIGTERM/SIGINT and then raises the signal again for the handler
    # that was there before it; with the default handler that kills the process (exit -15) before
    # the heartbeat is removed. A handler that does nothing lets run() return normally.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        uvicorn.run(
            gateway.asgi,
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
