"""``qf sim``: the simulated broker, a local page and WebSocket server speaking the broker's protocol."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from quantumflux.sim.config import SimSettings


def sim(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default 8765); 0 picks a free one.")
    ] = None,
    assets: Annotated[
        str | None, typer.Option(help="How many assets (e.g. 3) or a list, e.g. EURUSD_otc,GBPUSD_otc.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Ticks per second per asset (default 2, like the broker).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed: the same seed gives the same prices and timings.")
    ] = None,
    steady: Annotated[
        bool | None,
        typer.Option(
            "--steady/--lifelike",
            help="Ticks on a fixed grid (1/rate s apart, no jitter) instead of the broker's timing.",
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(help="Append every tick sent to this file, in UTC, as JSON lines {asset, ts, price}."),
    ] = None,
    ping_interval: Annotated[float | None, typer.Option(help="Seconds between the server's pings.")] = None,
    history_gap: Annotated[
        float | None,
        typer.Option(help="History requests closer together than this (seconds) get no answer."),
    ] = None,
    start: Annotated[
        float | None, typer.Option(help="UTC time (seconds) the market starts at; default now.")
    ] = None,
) -> None:
    """Run the simulated broker; prints the page's address, stops on Ctrl-C or SIGTERM."""
    import logging
    import sys

    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.sim.config import SimSettings

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s sim %(levelname)s %(message)s"
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)  # one line per HTTP request is noise here
    overrides = {
        "sim_host": host,
        "sim_port": port,
        "sim_assets": assets,
        "sim_rate": rate,
        "sim_seed": seed,
        "sim_steady": steady,
        "sim_ping_interval": ping_interval,
        "sim_history_gap": history_gap,
        "sim_start": start,
    }
    _serve(settings_or_exit(SimSettings, "sim", overrides), truth)


def _serve(settings: SimSettings, truth: Path | None) -> None:
    """Serve the simulated market until SIGINT or SIGTERM."""
    import asyncio
    import logging
    import signal
    import time

    from quantumflux.sim.feed import SimFeed
    from quantumflux.sim.server import SimServer

    log = logging.getLogger("qf.sim")
    start = time.time() if settings.sim_start is None else settings.sim_start
    feed = SimFeed(
        seed=settings.sim_seed,
        assets=settings.sim_assets,
        rate=settings.sim_rate,
        start=start,
        steady=settings.sim_steady,
    )
    server = SimServer(
        feed,
        host=settings.sim_host,
        port=settings.sim_port,
        truth=truth,
        ping_interval=settings.sim_ping_interval,
        ping_timeout=min(20.0, settings.sim_ping_interval),
        history_gap=settings.sim_history_gap,
        real_account=settings.sim_real_account,
    )

    def ready(url: str) -> None:
        # The first line on stdout is the page's address, so a launcher can read it.
        print(url, flush=True)
        log.info(
            "simulated broker ready at %s with %s (%.3g ticks/s each, seed %s, start %.3f)",
            url,
            ", ".join(feed.assets),
            feed.rate,
            feed.seed,
            feed.start,
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop, ready)

    try:
        asyncio.run(main())
    except OSError as exc:
        typer.echo(
            f"qf sim: cannot listen on {settings.sim_host}:{settings.sim_port}: {exc.strerror or exc}",
            err=True,
        )
        raise typer.Exit(1) from None
    log.info("stopped after sending %d ticks", server.ticks_sent)


COMMANDS = {"sim": sim}
