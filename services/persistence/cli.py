"""``qf persistence`` (the service) and ``qf data`` (what is on disk). Light imports only here."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def persistence(
    collect_stream: Annotated[
        str | None,
        typer.Option(help="What is written to CSV files: tick, candle, both or none (env QF_PERSIST)."),
    ] = None,
    candle_chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Candle rows per file (env QF_CANDLE_CHUNK, default 100).")
    ] = None,
    tick_chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Tick rows per file (env QF_TICK_CHUNK, default 1000).")
    ] = None,
) -> None:
    """Write closed candles and live ticks from the streams to chunked CSV files, losing and repeating nothing."""
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.persistence.config import PersistenceSettings
    from quantumflux.persistence.worker import main

    if collect_stream is not None and collect_stream not in ("tick", "candle", "both", "none"):
        raise typer.BadParameter("use tick, candle, both or none", param_hint="--collect-stream")
    overrides: dict[str, Any] = {}
    if collect_stream is not None:
        overrides["persist"] = collect_stream
    if candle_chunk_size is not None:
        overrides["candle_chunk"] = candle_chunk_size
    if tick_chunk_size is not None:
        overrides["tick_chunk"] = tick_chunk_size
    raise typer.Exit(main(settings_or_exit(PersistenceSettings, "persistence", overrides)))


COMMANDS = {"persistence": persistence}
