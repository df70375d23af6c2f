"""What the commands do around the core: settings, files, the terminal, the HTTP server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.bus.config import UnknownSettingError, check_environment

from . import datasets, runner
from .analysis import AnalysisError
from .config import BacktestSettings
from .engine import EngineError
from .loader import LoadError
from .strategies import Strategy, StrategyError, get_strategy, load_strategy_file


class CommandError(ValueError):
    """A mistake in what the user typed; the message is shown as one line."""


def _settings(**overrides: Any) -> BacktestSettings:
    check_environment()
    return BacktestSettings(**{k: v for k, v in overrides.items() if v is not None})


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


def run_backtest_command(o: dict[str, Any]) -> int:
    """``qf backtest``: 0 when done, 2 with a one-line error on stderr when the input is wrong."""
    progress = LazyProgress()
    try:
        settings = _settings(data_dir=o["data_dir"])
        strategy: Strategy = (
            load_strategy_file(o["strategy_file"]) if o["strategy_file"] else get_strategy(o["strategy"])
        )
        compare = [s.strip() for s in (o["compare"] or "").split(",") if s.strip()]
        compare = [s for s in dict.fromkeys(compare) if s != strategy.name]
        request = runner.BacktestRequest(
            datasets=o["datasets"],
            strategy=strategy.name,
            params=parse_pairs(o["param"], "parameter"),
            expiry=o["expiry"],
            payout=o["payout"],
            min_confidence=o["min_confidence"],
            overlap=o["overlap"],
            stake=o["stake"],
            fraction=o["fraction"],
            balance=o["balance"],
            compare=compare,
            grid=parse_pairs(o["grid"], "grid"),
            metric=o["metric"],
            walk_forward=runner.WalkForward(train=o["train"], test=o["test"]) if o["walk_forward"] else None,
            monte_carlo=o["monte_carlo"],
            ruin=o["ruin"],
            seed=o["seed"],
            max_trades=o["max_trades"],
        )
        resolved = resolve_datasets(o["datasets"], settings.data_dir)
        keep: dict[str, Any] = {}
        output = runner.execute(request, resolved, strategy, progress, keep=keep)
    except ValidationError as exc:
        return _fail(_validation_line(exc))
    except (LoadError, StrategyError, EngineError, AnalysisError, CommandError, datasets.DatasetError) as exc:
        return _fail(str(exc))
    except UnknownSettingError as exc:
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


def serve(host: str | None, port: int | None, data_dir: Path | None) -> int:
    """``qf backtest-service``: serve HTTP until SIGTERM/SIGINT."""
    import logging

    import uvicorn

    from .app import create_app

    try:
        settings = _settings(backtest_host=host, backtest_port=port, data_dir=data_dir)
    except (UnknownSettingError, ValidationError) as exc:
        msg = _validation_line(exc) if isinstance(exc, ValidationError) else str(exc)
        return _fail(msg)
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
