"""`qf up`: the whole stack as child processes, on the user's Redis or an embedded one."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence

from quantumflux.bus.connection import ping
from quantumflux.qf import embedded_redis as server
from quantumflux.qf.config import UpSettings
from quantumflux.qf.supervisor import Child, Supervisor, python_child

__all__ = ["Child", "StackError", "run_up", "service_children"]

# (command, package) in start order: producers first, so consumers find their streams.
SERVICES = (
    ("ingest", "quantumflux.ingest"),
    ("candles", "quantumflux.candles"),
    ("persistence", "quantumflux.persistence"),
    ("gateway", "quantumflux.gateway"),
    ("backtest-service", "quantumflux.backtest"),
    ("signals-service", "quantumflux.signals"),
)


class StackError(RuntimeError):
    """The stack cannot start; the message says why in plain words."""


def _exists(package: str) -> bool:
    try:
        return importlib.util.find_spec(f"{package}.cli") is not None
    except ModuleNotFoundError:
        return False


def trader_child(trade: str, real_money: bool) -> list[Child]:
    """The trader, only when trading is on; real money only with the command line's confirmation."""
    if trade == "off" or not _exists("quantumflux.trader"):
        return []
    if trade == "real" and not real_money:
        raise StackError(
            "QF_TRADE=real places orders with real money: add --real-money to the command line to confirm, "
            "or set QF_TRADE=demo"
        )
    return [python_child("trader", "trader", *(["--real-money"] if real_money else []))]


def service_children(source: str = "cdp", collect_stream: str | None = None) -> list[Child]:
    """One child per service that exists, with the same command compose runs."""
    out = []
    for command, package in SERVICES:
        if not _exists(package):
            continue
        args: list[str] = []
        if command == "ingest":
            args = ["--source", source]
        elif command == "persistence" and collect_stream:
            args = ["--collect-stream", collect_stream]
        out.append(python_child(command, command, *args))
    return out


def choose_redis(settings: UpSettings, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The Redis URL to use and whether the embedded one must be started.

    QF_REDIS_URL set: that one, and it must answer. Otherwise the local default if it answers,
    else the embedded Redis (always with --embedded-redis).
    """
    if settings.embedded_redis:
        return "", True
    if "QF_REDIS_URL" in environ:
        if not ping(settings.redis_url, timeout=3.0):
            raise StackError(
                f"Redis at {settings.redis_url} (from QF_REDIS_URL) does not answer. "
                "Start it, fix the URL, or unset QF_REDIS_URL to use the embedded Redis."
            )
        return settings.redis_url, False
    if ping(settings.local_redis_url, timeout=1.0):
        return settings.local_redis_url, False
    return "", True


def web_url(environ: Mapping[str, str]) -> str:
    """Where the gateway serves the web app, from the same settings the gateway reads."""
    host = environ.get("QF_GATEWAY_HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{environ.get('QF_GATEWAY_PORT', '3001')}"


def embedded_child(settings: UpSettings) -> tuple[Child, str]:
    """QuantumFlux's own Redis on a free port, and its URL."""
    port = server.choose_port(settings.local_redis_url)
    url = f"redis://127.0.0.1:{port}/0"
    return Child("redis", server.argv(settings.data_dir, port), ready=lambda: server.wait_ready(url)), url


def run_up(
    settings: UpSettings,
    *,
    source: str = "cdp",
    collect_stream: str | None = None,
    extra_children: Sequence[Child] = (),
    extra_env: Mapping[str, str] | None = None,
    banner: Sequence[str] = (),
    real_money: bool = False,
) -> int:
    """Run every service (plus ``extra_children``) until SIGINT/SIGTERM; returns the exit code.

    The trader runs only when ``QF_TRADE`` is demo or real (real: only with ``real_money``).
    """
    traders = trader_child(settings.trade, real_money)
    url, embedded = choose_redis(settings, os.environ)

    children: list[Child] = []
    if embedded:
        redis_child, url = embedded_child(settings)
        children.append(redis_child)
    children += service_children(source, collect_stream)
    children += traders
    children += list(extra_children)

    env = dict(os.environ)
    env.update(extra_env or {})
    env["QF_REDIS_URL"] = url
    sup = Supervisor(children, env, restart_limit=settings.restart_limit, stop_timeout=settings.stop_timeout)

    def ready() -> None:
        if embedded:
            server.remember_url(settings.data_dir, url)
            sup.out(
                f"No Redis answered at {settings.local_redis_url}, so QuantumFlux runs its own at {url} "
                f"(data kept in {settings.data_dir / 'redis'})."
                if not settings.embedded_redis
                else f"Running the embedded Redis at {url} (data kept in {settings.data_dir / 'redis'})."
            )
        names = ", ".join(c.name for c in children)
        sup.out(f"QuantumFlux is running: {names}.")
        sup.out(f"Open the chart: {web_url(env)}   (Ctrl-C stops everything)")
        for line in banner:
            sup.out(line)
        if traders:
            sup.out(
                f"Trading is ON ({settings.trade}): `qf trade status` shows it, `qf trade stop` stops it."
            )

    try:
        return sup.run(ready)
    finally:
        if embedded:
            server.remember_url(settings.data_dir, None)


def main_error(exc: Exception) -> int:
    """Print a launcher error in one line and return the exit code."""
    print(f"qf: {exc}", file=sys.stderr)
    return 2
