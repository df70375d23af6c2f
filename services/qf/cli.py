"""The ``qf`` command: every service and tool of QuantumFlux under one name.

Each service package may have a ``cli.py`` with ``COMMANDS = {"name": function}``; the functions
are typer commands (typed parameters become flags). Those modules import only light things at
the top, so ``qf --help`` stays fast; the heavy work is imported inside each command.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import typer

# Order here is the order in `qf --help`.
COMMAND_MODULES = (
    "quantumflux.qf.commands",
    "quantumflux.ingest.cli",
    "quantumflux.candles.cli",
    "quantumflux.persistence.cli",
    "quantumflux.files.cli",
    "quantumflux.gateway.cli",
    "quantumflux.backtest.cli",
    "quantumflux.signals.cli",
    "quantumflux.sim.cli",
    "quantumflux.backfill.cli",
    "quantumflux.trader.cli",
)

app = typer.Typer(
    name="qf",
    help="QuantumFlux: market data from your own PocketOption window, candles, files, live chart, backtests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def available_commands() -> dict[str, Callable[..., Any]]:
    """Every command of every service package that exists, by name."""
    found: dict[str, Callable[..., Any]] = {}
    for mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name and mod_name.startswith(exc.name):
                continue
            raise
        found.update(getattr(mod, "COMMANDS", {}))
    return found


def _register() -> None:
    for name, fn in available_commands().items():
        app.command(name, context_settings={"help_option_names": ["-h", "--help"]})(fn)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``qf`` console script."""
    _register()
    app(args=argv if argv is not None else sys.argv[1:], prog_name="qf")
