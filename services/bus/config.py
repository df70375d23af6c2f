"""Settings shared by every service: where Redis is, the key prefix, partitions, the data folder.

Each service extends :class:`BusSettings` with its own fields in its own ``config.py``. Values come
from ``QF_*`` environment variables; keyword arguments (the CLI flags) override them. A ``QF_``
variable that no service knows is an error, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "QF_"


def listed(value: Any, separators: str) -> Any:
    """A list setting: a JSON list as is; text split on ``separators`` and white space."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    for sep in separators:
        text = text.replace(sep, " ")
    return text.split()


# Every module that holds a settings class, so the unknown-variable check knows every name.
SETTINGS_MODULES = (
    "quantumflux.bus.config",
    "quantumflux.ingest.config",
    "quantumflux.candles.config",
    "quantumflux.persistence.config",
    "quantumflux.gateway.config",
    "quantumflux.backtest.config",
    "quantumflux.signals.config",
    "quantumflux.sim.config",
    "quantumflux.bridge.config",
    "quantumflux.backfill.config",
    "quantumflux.trader.config",
    "quantumflux.qf.config",
)

# Variables read outside a settings class (by the launcher and by tests).
EXTRA_KNOWN = {"QF_CHROME_BIN", "QF_TEST_REDIS_URL", "QF_SKIP_SETUP"}


class UnknownSettingError(ValueError):
    """A ``QF_`` environment variable that no service reads."""


class BusSettings(BaseSettings):
    """Connection and naming settings every service shares."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis to use (QF_REDIS_URL).")
    prefix: str = Field(default="qf", description="Prefix of every Redis key (QF_PREFIX).")
    partitions: int = Field(default=4, ge=1, le=1024, description="Tick stream partitions.")
    data_dir: Path = Field(default=Path("data"), description="Where files are written.")
    instance: str = Field(
        # A container's main process is pid 1, and a restarted container keeps its hostname, so
        # there the default name comes back with the restart; elsewhere the pid tells apart the
        # many processes of one host, and each start is a new name.
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        min_length=1,
        description=(
            "Name of this process (QF_INSTANCE) in heartbeats, consumer groups and leases: a process"
            " restarted under the same name takes back its own work at once. Default: hostname-pid."
        ),
    )
    redis_retry_max: float = Field(
        default=5.0, gt=0, description="Longest wait in seconds between Redis reconnect tries."
    )
    heartbeat_interval: float = Field(default=2.0, gt=0, description="Seconds between heartbeats.")
    heartbeat_ttl: float = Field(default=10.0, gt=0, description="Seconds a heartbeat stays valid.")

    @field_validator("prefix")
    @classmethod
    def _prefix_is_plain(cls, v: str) -> str:
        if not v or any(c in v for c in " {}:*?\n\r\t"):
            raise ValueError("the prefix must be a plain word without spaces, ':', '{', '}' or '*'")
        return v


def known_setting_names(modules: Iterable[str] = SETTINGS_MODULES) -> set[str]:
    """Every ``QF_`` variable name that some settings class of the project reads."""
    names = set(EXTRA_KNOWN)
    for mod_name in modules:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError:
            continue
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, BaseSettings):
                prefix = str(obj.model_config.get("env_prefix", ""))
                for name, field in obj.model_fields.items():
                    names.add((prefix + name).upper())
                    alias = field.validation_alias
                    if isinstance(alias, str):
                        names.add(alias.upper())
    return names


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`UnknownSettingError` naming every ``QF_`` variable that nothing reads."""
    env = os.environ if environ is None else environ
    known = known_setting_names()
    unknown = sorted(k for k in env if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), known, n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise UnknownSettingError("unknown setting: " + ", ".join(hints))
