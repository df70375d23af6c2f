"""``qf gateway``: the live chart's server (Socket.IO + REST + the web app)."""

from __future__ import annotations

from typing import Annotated

import typer


def gateway(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 3001).")] = None,
    require_token: Annotated[
        bool, typer.Option("--require-token", help="Ask for QF_API_TOKEN even on 127.0.0.1.")
    ] = False,
    web_dir: Annotated[
        str | None, typer.Option(help="Folder of the built web app (default web/dist).")
    ] = None,
) -> None:
    """Serve live candles and status to browsers, the REST API, and the web app."""
    import logging

    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.gateway.config import GatewaySettings
    from quantumflux.gateway.server import GatewayConfigError, serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {
        "gateway_host": host,
        "gateway_port": port,
        "gateway_require_token": True if require_token else None,
        "gateway_web_dir": web_dir,
    }
    settings = settings_or_exit(GatewaySettings, "gateway", overrides)
    try:
        code = serve(settings)
    except GatewayConfigError as exc:
        typer.echo(f"gateway: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


COMMANDS = {"gateway": gateway}
