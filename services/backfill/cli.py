"""``qf backfill`` and ``qf collect``: older candles through the trader's own page, into ``data_collect``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from quantumflux.backfill.config import BackfillSettings
    from quantumflux.backfill.worker import Job

COLLECT_TIMEFRAMES = "1h,15m,5m,1m"  # top down: the big picture first, as the old collector did


def backfill(
    assets: Annotated[list[str], typer.Argument(help="Assets to fill, e.g. EURUSD_otc GBPUSD_otc.")],
    timeframe: Annotated[str, typer.Option(help="Timeframes, e.g. 1m,5m.")] = "1m",
    days: Annotated[float | None, typer.Option(help="How many days back (default 1).")] = None,
    since: Annotated[str | None, typer.Option(help="From this UTC date or time, e.g. 2026-12-01.")] = None,
    pace: Annotated[
        float | None, typer.Option(help="Least seconds between two requests (default 0.5).")
    ] = None,
    chrome_url: Annotated[str | None, typer.Option(help="Chrome's debugging address.")] = None,
    progress_json: Annotated[
        bool,
        typer.Option("--progress-json", help="Progress as one JSON line per page on stdout, for programs."),
    ] = False,
) -> None:
    """Page older candles back through your PocketOption page; run again to fetch only what is missing."""
    settings = _settings("backfill", pace, chrome_url)
    start = _start(days, since)
    jobs = [_job(a, tf, start) for a in assets for tf in _timeframes(timeframe)]
    raise typer.Exit(_run_json(settings, jobs) if progress_json else _run(settings, jobs))


def collect(
    assets: Annotated[
        str | None, typer.Option(help="Assets, e.g. EURUSD_otc,GBPUSD_otc (default: the ones you picked).")
    ] = None,
    timeframes: Annotated[str, typer.Option(help="Timeframes, in the order collected.")] = COLLECT_TIMEFRAMES,
    candles: Annotated[int | None, typer.Option(help="Candles per timeframe (default 100).")] = None,
    days: Annotated[float | None, typer.Option(help="Days back instead of a number of candles.")] = None,
    pace: Annotated[
        float | None, typer.Option(help="Least seconds between two requests (default 0.5).")
    ] = None,
    chrome_url: Annotated[str | None, typer.Option(help="Chrome's debugging address.")] = None,
) -> None:
    """Collect your assets top down (1h, 15m, 5m, 1m by default) to the depth asked, as backfill does."""
    from quantumflux.backfill.worker import favourite_assets

    settings = _settings("collect", pace, chrome_url)
    if candles is not None and days is not None:
        _fail("collect: give --candles or --days, not both")
    names = [a.strip() for a in assets.split(",") if a.strip()] if assets else favourite_assets(settings)
    if not names:
        _fail("collect: no assets: pick some in PocketOption while QuantumFlux runs, or give --assets A,B")
    count = candles if candles is not None else (None if days is not None else 100)
    start = _start(days, None) if days is not None else None
    jobs = [_job(a, tf, start, count) for tf in _ordered(timeframes) for a in names]
    raise typer.Exit(_run(settings, jobs))


def _settings(label: str, pace: float | None, chrome_url: str | None) -> BackfillSettings:
    from quantumflux.backfill.config import BackfillSettings
    from quantumflux.bus.cli import settings_or_exit

    return settings_or_exit(BackfillSettings, label, {"bridge_pace": pace, "chrome_url": chrome_url})


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _timeframes(value: str) -> tuple[int, ...]:
    from quantumflux.bus.timeframes import TimeframeError, parse_timeframes

    try:
        return parse_timeframes(value)
    except TimeframeError as exc:
        _fail(f"backfill: {exc}")
        raise


def _ordered(value: str) -> list[int]:
    from quantumflux.bus.timeframes import TimeframeError, parse_timeframe

    try:
        found = [parse_timeframe(v.strip()) for v in value.split(",") if v.strip()]
    except TimeframeError as exc:
        _fail(f"collect: {exc}")
        raise
    return list(dict.fromkeys(found))


def _start(days: float | None, since: str | None) -> float:
    import time
    from datetime import UTC, datetime

    if days is not None and since is not None:
        _fail("backfill: give --days or --since, not both")
    if since is not None:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            _fail(f"backfill: --since {since!r} is not a date like 2026-12-01 or 2026-12-01T08:00")
            raise
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if days is not None and days <= 0:
        _fail("backfill: --days must be more than 0")
    return time.time() - (1.0 if days is None else days) * 86400


def _job(asset: str, tf: int, start: float | None, count: int | None = None) -> Job:
    import time

    from quantumflux.backfill import pager
    from quantumflux.backfill.worker import Job

    newest = pager.newest_closed(time.time(), tf)
    first = newest - (count - 1) * tf if count is not None else pager.first_wanted(start or 0, tf)
    return Job(asset, tf, first, newest)


def _run(settings: BackfillSettings, jobs: list[Job]) -> int:
    import trio

    from quantumflux.backfill.progress import ProgressView
    from quantumflux.backfill.worker import backfill as run_backfill
    from quantumflux.bridge import BridgeError

    view = ProgressView()
    try:
        with view:
            report = trio.run(run_backfill, settings, jobs, view.update)
    except BridgeError as exc:
        typer.echo(f"backfill: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("backfill: stopped; every page written is kept, run again to continue", err=True)
        return 130
    for series, n in report.written.items():
        typer.echo(f"{series}: {n} candles written")
    for message in report.failed.values():
        typer.echo(f"backfill: {message}", err=True)
    return 1 if report.failed else 0


def _run_json(settings: BackfillSettings, jobs: list[Job]) -> int:
    import trio

    from quantumflux.backfill.progress import JsonProgress
    from quantumflux.backfill.worker import backfill as run_backfill
    from quantumflux.bridge import BridgeError

    view = JsonProgress(settings.data_dir)
    try:
        with view:
            report = trio.run(run_backfill, settings, jobs, view.update)
    except BridgeError as exc:
        view.finish(jobs, None, str(exc))
        return 1
    except KeyboardInterrupt:
        view.finish(jobs, None, "stopped; every page written is kept, run again to continue")
        return 130
    view.finish(jobs, report)
    return 1 if report.failed else 0


COMMANDS = {"backfill": backfill, "collect": collect}
