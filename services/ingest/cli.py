"""Commands of the ingest service: `qf ingest`, `qf record`, `qf replay`, `qf demo`.

Only light imports here; each command imports its machinery when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from services.bus.config import UnknownSettingError, check_environment
    from services.ingest.config import IngestSettings

    try:
        check_environment()
        return IngestSettings(**{k: v for k, v in overrides.items() if v is not None})
    except UnknownSettingError as exc:
        typer.echo(f"qf: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"])
            typer.echo(f"qf: {where}: {str(err['msg']).removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


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
    settings = _settings(source=source, speed=speed, chrome_url=chrome_url)
    if not (settings.source in ("cdp", "sim") or settings.source.startswith("replay:")):
        raise typer.BadParameter("use cdp, sim or replay:FILE", param_hint="--source")
    _logging()
    from services.ingest.worker import IngestWorker

    raise typer.Exit(IngestWorker(settings, linger=True).run())


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
    from services.ingest.worker import IngestWorker

    raise typer.Exit(IngestWorker(settings).run())


def record(
    file: Annotated[Path, typer.Argument(help="Where to write the frames (JSON lines).")],
    chrome_url: Annotated[
        str | None, typer.Option(help="Chrome's debugging address (default http://127.0.0.1:9222).")
    ] = None,
) -> None:
    """Write every WebSocket frame your Chrome receives or sends to FILE, with credentials removed."""
    settings = _settings(chrome_url=chrome_url)
    _logging()
    from services.ingest.record import run_record

    raise typer.Exit(run_record(settings, file))


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the simulated market (same seed, same ticks).")] = 1,
    assets: Annotated[int, typer.Option(help="How many assets the simulated broker quotes.")] = 4,
    embedded_redis: Annotated[
        bool, typer.Option("--embedded-redis", help="Use QuantumFlux's own Redis even if another answers.")
    ] = False,
) -> None:
    """The whole platform on a simulated broker in a headless Chromium: no PocketOption account needed."""
    from services.ingest.demo import run_demo

    raise typer.Exit(run_demo(seed=seed, assets=assets, embedded_redis=embedded_redis))


COMMANDS = {"ingest": ingest, "record": record, "replay": replay, "demo": demo}
