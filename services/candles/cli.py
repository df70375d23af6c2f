"""``qf candles``: run one candle worker (what compose scales)."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def candles(
    timeframes: Annotated[
        str | None, typer.Option(help="Timeframes to build, e.g. 1m,5m,15m,1h,4h (also 1s…30s and 1d).")
    ] = None,
    close_grace: Annotated[
        float | None, typer.Option(help="Seconds after a candle's end before it closes on time alone.")
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Close candles on tick times only, never on the wall clock.")
    ] = False,
    broker_day_offset: Annotated[
        int | None, typer.Option(help="Seconds the broker's day starts before UTC midnight (0 = UTC).")
    ] = None,
    lease: Annotated[
        float | None, typer.Option(help="Seconds a worker owns a partition without renewing.")
    ] = None,
    series_length: Annotated[
        int | None, typer.Option(help="Closed candles kept per asset and timeframe for charts.")
    ] = None,
) -> None:
    """Build candles from the tick streams: every change, each closed candle once, recent series."""
    import logging
    import sys

    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.candles.config import CandlesSettings
    from quantumflux.candles.worker import CandleWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s candles %(levelname)s %(message)s")
    overrides: dict[str, Any] = {
        "timeframes": timeframes,
        "close_grace": close_grace,
        "broker_day_offset": broker_day_offset,
        "candles_lease": lease,
        "series_length": series_length,
        "candles_replay": True if replay else None,
    }
    settings = settings_or_exit(CandlesSettings, "candles", overrides)
    # The worker stops on SIGTERM/SIGINT itself (its service shell).
    sys.exit(CandleWorker(settings).run())


COMMANDS = {"candles": candles}
