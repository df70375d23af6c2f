"""What the commands do around the core: files, the terminal, the HTTP server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from quantumflux.files import datasets
from quantumflux.files.reader import LoadError

from . import runner
from .analysis import AnalysisError
from .config import BacktestSettings
from .engine import EngineError
from .jobs import run_job
from .strategies import Strategy, StrategyError, get_strategy, load_strategy_file


class CommandError(ValueError):
    """A mistake in what the user typed; the message is shown as one line."""


def parse_pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` as a dict; :class:`CommandError` for an item without ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise CommandError(f"{what} {item!r}: write it as name=value")
        out[name.strip()] = value.strip()
    return out


def resolve_datasets(names: list[str], data_dir: Path) -> list[datasets.Dataset]:
    """Each name as a dataset id of the catalogue or, failing that, a CSV file on this machine."""
    catalogue = datasets.discover(data_dir)
    out = []
    for name in names:
        if name in catalogue:
            out.append(catalogue[name])
        elif Path(name).is_file():
            out.append(datasets.file_dataset(name))
        else:
            try:
                datasets.lookup(catalogue, name)
            except datasets.DatasetError as exc:
                raise CommandError(f"{exc}, and there is no file {name!r}") from None
    return out


class LazyProgress:
    """A rich progress bar on stderr that shows only once a step has run for a second."""

    def __init__(self) -> None:
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        now = time.monotonic()
        first = self.started.setdefault(name, now)
        if self.progress is None:
            if now - first < 1.0 or not sys.stderr.isatty():
                return
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True), transient=True)
            self.progress.start()
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.tasks[name], completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _validation_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err.get("loc", ()))
    return f"{where.replace('_', '-')}: {err.get('msg', 'invalid')}" if where else str(err.get("msg"))


def parse_payout(text: str) -> tuple[Literal["fixed", "history"], float]:
    """``--payout``: ``0.92`` → ("fixed", 0.92); ``history`` → ("history", 0.92);
    ``history:0.85`` → ("history", 0.85); :class:`CommandError` otherwise."""
    word, _, value = str(text).strip().partition(":")
    mode: Literal["fixed", "history"] = "fixed"
    if word.lower() == "history":
        mode, text = "history", value or "0.92"
    elif value:
        raise CommandError(f"payout {text!r}: write a number like 0.92, history or history:0.85")
    try:
        return mode, float(text)
    except ValueError:
        raise CommandError(f"payout {text!r}: write a number like 0.92, history or history:0.85") from None


def _request(o: dict[str, Any], strategy: Strategy) -> runner.BacktestRequest:
    """The request the command's options describe; pydantic's ``ValidationError`` when one is wrong."""
    compare = [s.strip() for s in (o["compare"] or "").split(",") if s.strip()]
    params: dict[str, float | int | str] = dict(parse_pairs(o["param"], "parameter"))
    mode, payout = parse_payout(o["payout"])
    return runner.BacktestRequest(
        datasets=o["datasets"],
        strategy=strategy.name,
        params=params,
        expiry=o["expiry"],
        payout=payout,
        payout_mode=mode,
        include_incomplete=o.get("include_incomplete", False),
        min_confidence=o["min_confidence"],
        overlap=o["overlap"],
        stake=o["stake"],
        fraction=o["fraction"],
        balance=o["balance"],
        compare=[s for s in dict.fromkeys(compare) if s != strategy.name],
        grid=parse_pairs(o["grid"], "grid"),
        metric=o["metric"],
        walk_forward=runner.WalkForward(train=o["train"], test=o["test"]) if o["walk_forward"] else None,
        monte_carlo=o["monte_carlo"],
        ruin=o["ruin"],
        seed=o["seed"],
        max_trades=o["max_trades"],
    )


def run_backtest_command(settings: BacktestSettings, o: dict[str, Any]) -> int:
    """``qf backtest``: 0 when done, 2 with a one-line error on stderr when the input is wrong."""
    progress = LazyProgress()
    try:
        strategy: Strategy = (
            load_strategy_file(o["strategy_file"]) if o["strategy_file"] else get_strategy(o["strategy"])
        )
        request = _request(o, strategy)
        resolved = resolve_datasets(o["datasets"], settings.data_dir)
        keep: dict[str, Any] = {}
        # The service's job runner, here in this process: the same steps, shown as progress bars.
        output = run_job(request, resolved, strategy, listener=progress, keep=keep)
    except ValidationError as exc:
        return _fail(_validation_line(exc))
    except (LoadError, StrategyError, EngineError, AnalysisError, CommandError, datasets.DatasetError) as exc:
        return _fail(str(exc))
    finally:
        progress.close()
    if o["report"]:
        from .report import render

        try:
            Path(o["report"]).write_text(render(output, keep), encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write the report {o['report']}: {exc.strerror}")
    if o["as_json"]:
        sys.stdout.write(json.dumps(output) + "\n")
    else:
        from .tables import show

        show(output, o["report"])
    return 0


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return 2


def serve(settings: BacktestSettings) -> int:
    """``qf backtest-service``: serve HTTP until SIGTERM/SIGINT."""
    import logging

    import uvicorn

    from .app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("qf.backtest").info(
        "backtest service on http://%s:%s (data folder %s)",
        settings.backtest_host,
        settings.backtest_port,
        settings.data_dir,
    )
    app = create_app(settings, heartbeat=True)
    uvicorn.run(app, host=settings.backtest_host, port=settings.backtest_port, log_level="warning")
    return 0
