"""What every command shares: settings loaded one way with one error format, ``python -m`` runs.

A bad or unknown setting is a plain ``label: why`` on stderr and exit code 2, never a traceback,
whichever command loaded it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from quantumflux.bus.config import BusSettings, UnknownSettingError, check_environment

S = TypeVar("S", bound=BusSettings)


class SettingsError(ValueError):
    """A setting that is unknown or has a bad value; the message says which and why."""


def load_settings(cls: type[S], overrides: dict[str, Any] | None = None) -> S:
    """``cls(**overrides)`` after :func:`check_environment`; raises :class:`SettingsError`."""
    try:
        check_environment()
        return cls(**{k: v for k, v in (overrides or {}).items() if v is not None})
    except UnknownSettingError as exc:
        raise SettingsError(str(exc)) from None
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, str(cls.model_config.get("env_prefix", "")))) from None


def _one_line(exc: ValidationError, env_prefix: str) -> str:
    # pydantic's own text spans several lines and links to its docs; a user needs which and why,
    # named as they set it (the environment variable; a flag sets the same value).
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        where = f"{env_prefix}{field}".upper() if field else exc.title
        parts.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)


def settings_or_exit(cls: type[S], label: str, overrides: dict[str, Any] | None = None) -> S:
    """:func:`load_settings` for a command: on a bad setting print ``label: why`` and exit 2."""
    try:
        return load_settings(cls, overrides)
    except SettingsError as exc:
        typer.echo(f"{label}: {exc}", err=True)
        raise typer.Exit(2) from None


def run_command(module: str, name: str, argv: list[str] | None = None) -> None:
    """Run the command ``name`` of ``module``'s ``COMMANDS`` as ``python -m`` runs it."""
    commands: dict[str, Callable[..., Any]] = importlib.import_module(module).COMMANDS
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name, context_settings={"help_option_names": ["-h", "--help"]})(commands[name])
    app(args=argv if argv is not None else sys.argv[1:], prog_name=f"qf {name}")
