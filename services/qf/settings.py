"""Settings for a service command: the environment checked first, a bad value a plain message and exit 2."""

from __future__ import annotations

from typing import Any, TypeVar

import typer

from services.bus.config import BusSettings

S = TypeVar("S", bound=BusSettings)


def settings_or_exit(cls: type[S], label: str, overrides: dict[str, Any] | None = None) -> S:
    """``cls(**overrides)`` after :func:`check_environment`; on a bad setting print ``label: why`` and exit 2."""
    from pydantic import ValidationError

    from services.bus.config import UnknownSettingError, check_environment

    try:
        check_environment()
        return cls(**(overrides or {}))
    except (UnknownSettingError, ValidationError) as exc:
        typer.echo(f"{label}: {exc}", err=True)
        raise typer.Exit(2) from None
