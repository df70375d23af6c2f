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
    import signal
    import sys
    import threading

    from pydantic import ValidationError

    from services.bus.config import UnknownSettingError, check_environment
    from services.candles.config import CandlesSettings
    from services.candles.worker import CandleWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s candles %(levelname)s %(message)s")
    overrides: dict[str, Any] = {
        "timeframes": timeframes,
        "close_grace": close_grace,
        "broker_day_offset": broker_day_offset,
        "candles_lease": lease,
        "series_length": series_length,
    }
    if replay:
        overrides["candles_replay"] = True
    try:
        check_environment()
        settings = CandlesSettings(**{k: v for k, v in overrides.items() if v is not None})
    except UnknownSettingError as exc:
        typer.echo(f"qf candles: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"])
            typer.echo(f"qf candles: {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("qf.candles").info("stopping (signal %s)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = CandleWorker(settings, stop)
    sys.exit(worker.run())


COMMANDS = {"candles": candles}
