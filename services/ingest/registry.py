"""Which source ``--source`` names: the built-in ones and those other packages register.

A source is named on the command line as ``NAME`` or ``NAME:ARGUMENT`` (``cdp``,
``replay:FILE``, ``sim``). Ingest knows only its own; another package adds one with
:func:`register_source`, or as an installed entry point of the group
``quantumflux.frame_sources`` (``NAME = "package.module:factory"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from quantumflux.ingest.source import FrameSource

if TYPE_CHECKING:
    from quantumflux.ingest.config import IngestSettings

# name -> factory(argument, settings); the argument is what follows ``NAME:`` (or "").
SourceFactory = Callable[[str, "IngestSettings"], FrameSource]


def _cdp(_arg: str, settings: IngestSettings) -> FrameSource:
    from quantumflux.ingest.cdp_source import CdpSource

    return CdpSource(settings)


def _replay(arg: str, settings: IngestSettings) -> FrameSource:
    from pathlib import Path

    from quantumflux.ingest.config import parse_speed
    from quantumflux.ingest.replay_source import ReplaySource

    return ReplaySource(Path(arg), parse_speed(settings.speed))


_SOURCES: dict[str, tuple[SourceFactory, bool]] = {"cdp": (_cdp, False), "replay": (_replay, True)}
ENTRY_POINTS = "quantumflux.frame_sources"


class UnknownSource(ValueError):
    """A source name nobody registered; the message lists the known ones."""


def register_source(name: str, factory: SourceFactory, *, takes_argument: bool = False) -> None:
    """Make ``--source NAME`` (``NAME:ARGUMENT`` when ``takes_argument``) build its source with ``factory``."""
    _SOURCES[name] = (factory, takes_argument)


def source_names() -> list[str]:
    """The accepted ``--source`` values, as a user writes them."""
    return [f"{name}:FILE" if arg else name for name, (_, arg) in _SOURCES.items()]


def _installed(name: str) -> tuple[SourceFactory, bool] | None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINTS, name=name):
        register_source(name, point.load())
        return _SOURCES[name]
    return None


def _split(spec: str) -> tuple[SourceFactory, str]:
    name, colon, arg = spec.partition(":")
    entry = _SOURCES.get(name) or _installed(name)
    if entry is None or entry[1] != bool(colon) or (colon and not arg):
        raise UnknownSource(f"unknown source {spec!r}: use {', '.join(source_names())}")
    return entry[0], arg


def check_source(spec: str) -> None:
    """Raise :class:`UnknownSource` unless ``spec`` names a registered source."""
    _split(spec)


def open_source(spec: str, settings: IngestSettings) -> FrameSource:
    """The source ``spec`` names (``cdp``, ``replay:FILE``, …); :class:`UnknownSource` if none."""
    factory, arg = _split(spec)
    return factory(arg, settings)
