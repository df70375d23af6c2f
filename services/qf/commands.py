"""The launcher's own commands: `qf up` and `qf status`."""

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
) -> None:
    """Run everything: capture, candles, files, the web app's server and backtests, in one command."""
    from services.bus.config import UnknownSettingError
    from services.qf.stack import StackError, main_error, run_up

    if collect_stream is not None and collect_stream not in ("tick", "candle", "both", "none"):
        raise typer.BadParameter("use tick, candle, both or none", param_hint="--collect-stream")
    if not (source in ("cdp", "sim") or source.startswith("replay:")):
        raise typer.BadParameter("use cdp, sim or replay:FILE", param_hint="--source")
    try:
        code = run_up(source=source, collect_stream=collect_stream, embedded_redis=embedded_redis)
    except (StackError, UnknownSettingError) as exc:
        code = main_error(exc)
    raise typer.Exit(code)


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show which services are alive, their counters, the streams and how far behind each reader is."""
    from services.qf.status import main

    raise typer.Exit(main(as_json=as_json))


COMMANDS = {"up": up, "status": status}
