"""Which strategies run on which assets and timeframes: the ``QF_SIGNALS`` text and its file form.

Text form: entries separated by ``;``, each ``strategy(param=value,…)@assets:timeframes``::

    quantum_flux@*:1m
    sma_cross(fast=5,slow=20)@EURUSD_otc,GBPUSD_otc:1m,5m

``*`` means every asset; the parameters and their parentheses are optional. File form (JSON, or
YAML when the name ends in ``.yaml``/``.yml``): a list of maps, or a map with a ``strategies`` list::

    [{"strategy": "sma_cross", "params": {"fast": 5}, "assets": ["EURUSD_otc"], "timeframes": ["1m"]}]

A file may also hold the text form as ``{"signals": "quantum_flux@*:1m"}``. Only built-in
strategies run here (a user's strategy file runs with ``qf backtest`` only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from quantumflux.backtest.strategies import Strategy, StrategyError, get_strategy
from quantumflux.bus.timeframes import TimeframeError, label, parse_timeframes


class SpecError(ValueError):
    """A strategies configuration that cannot be used; the message says where and why."""


def _num_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Run:
    """One strategy with its parameters on some assets (``None`` = all) and timeframes."""

    strategy: str
    params: tuple[tuple[str, Any], ...]
    assets: frozenset[str] | None
    timeframes: tuple[int, ...]

    @property
    def key(self) -> str:
        """The strategy with the parameters that differ from its defaults: ``sma_cross(fast=3)``."""
        defaults = get_strategy(self.strategy).defaults()
        shown = [f"{k}={_num_text(v)}" for k, v in self.params if defaults.get(k) != v]
        return f"{self.strategy}({','.join(shown)})" if shown else self.strategy

    def param_map(self) -> dict[str, Any]:
        """Every parameter's value (defaults filled in)."""
        return dict(self.params)

    def impl(self) -> Strategy:
        """The strategy object of the backtest."""
        return get_strategy(self.strategy)

    def covers(self, asset: str, tf: int) -> bool:
        """True when this run applies to ``asset`` at ``tf``."""
        return tf in self.timeframes and (self.assets is None or asset in self.assets)

    def lookback(self) -> int:
        """Closed candles the strategy needs for its newest decision."""
        return self.impl().lookback(self.param_map())


def _make(name: str, given: Mapping[str, object], assets: Any, timeframes: Any, where: str) -> Run:
    try:
        strategy = get_strategy(name.strip())
        params = strategy.resolve(given)
    except StrategyError as exc:
        raise SpecError(f"{where}: {exc}") from None
    if assets in (None, "*", ["*"]):
        asset_set: frozenset[str] | None = None
    else:
        items = assets.split(",") if isinstance(assets, str) else assets
        if not isinstance(items, list | tuple) or not all(isinstance(a, str) and a.strip() for a in items):
            raise SpecError(f"{where}: assets must be '*' or asset names like EURUSD_otc")
        asset_set = frozenset(a.strip() for a in items)
        if "*" in asset_set:
            asset_set = None
    try:
        tfs = parse_timeframes(timeframes if isinstance(timeframes, str | list | tuple) else str(timeframes))
    except TimeframeError as exc:
        raise SpecError(f"{where}: {exc}") from None
    if not tfs:
        raise SpecError(f"{where}: say which timeframes, e.g. ':1m'")
    return Run(strategy.name, tuple(sorted(params.items())), asset_set, tfs)


def _params_text(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, eq, value = part.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise SpecError(f"{where}: write parameters as name=value, not {part.strip()!r}")
        out[name.strip()] = value.strip()
    return out


def parse_text(text: str) -> list[Run]:
    """The runs of a ``QF_SIGNALS`` text; :class:`SpecError` naming the bad entry."""
    runs: list[Run] = []
    for n, raw in enumerate(text.replace("\n", ";").split(";"), start=1):
        entry = raw.strip()
        if not entry:
            continue
        where = f"entry {n} ({entry!r})"
        head, at, target = entry.rpartition("@")
        if not at:
            raise SpecError(f"{where}: write strategy@assets:timeframes, e.g. quantum_flux@*:1m")
        assets, colon, tfs = target.rpartition(":")
        if not colon or not assets.strip():
            raise SpecError(f"{where}: after '@' write assets:timeframes, e.g. *:1m or EURUSD_otc:5m")
        name, paren, rest = head.partition("(")
        params: dict[str, str] = {}
        if paren:
            if not rest.endswith(")"):
                raise SpecError(f"{where}: the parameter list needs a closing ')'")
            params = _params_text(rest[:-1], where)
        if not name.strip():
            raise SpecError(f"{where}: the strategy name is missing")
        runs.append(_make(name, params, assets.strip(), tfs.strip(), where))
    return runs


def parse_document(text: str, yaml_syntax: bool = False) -> list[Run]:
    """The runs of a JSON (or YAML) strategies file's text."""
    try:
        if yaml_syntax:
            import yaml

            doc: Any = yaml.safe_load(text)
        else:
            doc = json.loads(text)
    except ImportError:
        raise SpecError("reading YAML needs the pyyaml package (pip install pyyaml); or use JSON") from None
    except Exception as exc:
        raise SpecError(f"the file is not valid {'YAML' if yaml_syntax else 'JSON'}: {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("signals"), str):
        return parse_text(doc["signals"])
    items = doc.get("strategies") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise SpecError("the file must hold a list of strategies (or a map with a 'strategies' list)")
    runs = []
    for n, item in enumerate(items, start=1):
        where = f"strategy {n}"
        if not isinstance(item, dict) or not isinstance(item.get("strategy"), str):
            raise SpecError(f"{where}: each item needs 'strategy' (a name), 'assets' and 'timeframes'")
        unknown = set(item) - {"strategy", "params", "assets", "timeframes"}
        if unknown:
            raise SpecError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise SpecError(f"{where}: params must be a map of name: value")
        if "timeframes" not in item:
            raise SpecError(f'{where}: say which timeframes, e.g. "timeframes": ["1m"]')
        runs.append(_make(item["strategy"], params, item.get("assets", "*"), item["timeframes"], where))
    return runs


def timeframes_of(runs: list[Run]) -> tuple[int, ...]:
    """Every timeframe some run uses, sorted."""
    return tuple(sorted({tf for r in runs for tf in r.timeframes}))


def describe(runs: list[Run]) -> str:
    """One line per run, for logs and status: ``sma_cross(fast=3) on EURUSD_otc at 1m``."""
    lines = []
    for r in runs:
        where = "every asset" if r.assets is None else ", ".join(sorted(r.assets))
        lines.append(f"{r.key} on {where} at {', '.join(label(t) for t in r.timeframes)}")
    return "; ".join(lines)
