"""Commands of the ingest service: `qf ingest`, `qf record`, `qf replay`.

Only light imports here; each command imports its machinery when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from quantumflux.ingest.config import IngestSettings


def _settings(**overrides: Any) -> IngestSettings:
    from quantumflux.bus.cli import settings_or_exit
    from quantumflux.ingest.config import IngestSettings

    return settings_or_exit(IngestSettings, "ingest", overrides)


def _logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")


def ingest(
    source: Annotated[
        str | None,
        typer.Option(help="Where frames come from: cdp (Chrome at QF_CHROME_URL), sim, or replay:FILE."),
    ] = None,
    speed: Annotated[
        str | None, typer.Option(help="Replay speed: a factor of real time (1, 10) or max.")
    ] = None,
    chrome_url: Annotated[
        str | None, typer.Option(help="Chrome's debugging address (default http://127.0.0.1:9222).")
    ] = None,
) -> None:
    """Capture the broker's frames, decode them and publish ticks and events to Redis."""
    from quantumflux.ingest.registry import UnknownSource, open_source

    settings = _settings(source=source, speed=speed, chrome_url=chrome_url)
    try:
        frames = open_source(settings.source, settings)
    except UnknownSource as exc:
        raise typer.BadParameter(str(exc), param_hint="--source") from None
    _logging()
    from quantumflux.ingest.worker import IngestWorker

    raise typer.Exit(IngestWorker(settings, frames, linger=True).run())


def replay(
    file: Annotated[Path, typer.Argument(help="A recording made with `qf record`.")],
    speed: Annotated[str, typer.Option(help="A factor of real time (1, 10) or max.")] = "max",
) -> None:
    """Push a recording through the decoder to Redis, then print what it held."""
    settings = _settings(source=f"replay:{file}", speed=speed)
    if not file.is_file():
        typer.echo(f"qf: no recording at {file}", err=True)
        raise typer.Exit(2)
    _logging()
    from quantumflux.ingest.config import parse_speed
    from quantumflux.ingest.replay_source import ReplaySource
    from quantumflux.ingest.worker import IngestWorker

    raise typer.Exit(IngestWorker(settings, ReplaySource(file, parse_speed(settings.speed))).run())


def record(
    file: Annotated[Path, typer.Argument(help="Where to write the frames (JSON lines).")],
    chrome_url: Annotated[
        str | None, typer.Option(help="Chrome's debugging address (default http://127.0.0.1:9222).")
    ] = None,
    share: Annotated[
        bool,
        typer.Option(
            "--share",
            help="A file to send to others: keep only market data; account, balance, deals and "
            "every other frame are written as their shape (field names and kinds).",
        ),
    ] = False,
) -> None:
    """Write every WebSocket frame your Chrome receives or sends to FILE, with credentials removed."""
    settings = _settings(chrome_url=chrome_url)
    _logging()
    from quantumflux.ingest.record import run_record

    raise typer.Exit(run_record(settings, file, share=share))


COMMANDS = {"ingest": ingest, "record": record, "replay": replay}
