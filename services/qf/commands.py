"""The launcher's own commands: `qf up`, `qf demo`, `qf status` and `qf health`."""

from __future__ import annotations

from typing import Annotated

import typer


def up(
    source: Annotated[
        str, typer.Option(help="Where market data comes from: cdp (your Chrome), sim, or replay:FILE.")
    ] = "cdp",
    collect_stream: Annotated[
        str | None, typer.Option(help="What is written to CSV files: tick, candle, both or none.")
    ] = None,
    embedded_redis: Annotated[
        bool,
        typer.Option("--embedded-redis", help="Use QuantumFlux's own Redis even if another one answers."),
    ] = False,
    real_money: Annotated[
        bool,
        typer.Option("--real-money", help="With QF_TRADE=real: yes, place orders with real money."),
    ] = False,
) -> None:
    """Run everything: capture, candles, files, the web app's server and backtests, in one command."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.qf.config import UpSettings
    from quantumflux.qf.stack import StackError, main_error, run_up

    if collect_stream is not None and collect_stream not in ("tick", "candle", "both", "none"):
        raise typer.BadParameter("use tick, candle, both or none", param_hint="--collect-stream")
    if not (source in ("cdp", "sim") or source.startswith("replay:")):
        raise typer.BadParameter("use cdp, sim or replay:FILE", param_hint="--source")
    settings = settings_or_exit(UpSettings, "qf", {"embedded_redis": embedded_redis or None})
    try:
        code = run_up(settings, source=source, collect_stream=collect_stream, real_money=real_money)
    except StackError as exc:
        code = main_error(exc)
    raise typer.Exit(code)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show which services are alive, their counters, the streams and how far behind each reader is."""
    from quantumflux.qf.status import main

    raise typer.Exit(main(as_json=as_json))


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated market (same seed, same ticks).")] = 1,
    assets: Annotated[int, typer.Option(help="How many assets the simulated broker quotes.")] = 4,
    embedded_redis: Annotated[
        bool, typer.Option("--embedded-redis", help="Use QuantumFlux's own Redis even if another answers.")
    ] = False,
) -> None:
    """The whole platform on a simulated broker in a headless Chromium: no PocketOption account needed."""
    from quantumflux.qf.demo import run_demo

    raise typer.Exit(run_demo(seed=seed, assets=assets, embedded_redis=embedded_redis))


def health(
    service: Annotated[str, typer.Argument(help="The service whose heartbeat counts: ingest, candles, …")],
) -> None:
    """Exit 0 when SERVICE on this host beats in Redis, 1 when not: a container's healthcheck."""
    import socket

    import redis

    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.bus.config import BusSettings
    from quantumflux.bus.keys import Keys

    settings = settings_or_exit(BusSettings, "qf health")
    # A container's host name is its own, and its process is named after it (host, or host-pid
    # outside a container's pid 1): only this container's process counts, not a sibling's.
    keys, host = Keys(settings.prefix), socket.gethostname()
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        beating = bool(client.exists(keys.health(service, host))) or (
            next(client.scan_iter(match=keys.health(service, f"{host}-*"), count=1000), None) is not None
        )
    except redis.RedisError as exc:
        typer.echo(f"qf health: {exc}", err=True)
        beating = False
    raise typer.Exit(0 if beating else 1)


COMMANDS = {"up": up, "status": status, "demo": demo, "health": health}
