"""QuantumFlux: market data from your own PocketOption window, candles, files, backtests.

For research, the package itself is the notebook API (:mod:`quantumflux.notebook`)::

    import quantumflux as qf
    qf.candles("EURUSD_otc", "5m", start="2026-06-01")

The names are looked up on first use, so importing the package stays cheap for the services.
Two of them share a name with a service package (``candles``, ``backtest``): importing that
package would make the attribute the package, so the attribute is a call to the notebook function
that still reaches the package's modules (``quantumflux.backtest.runner``) by attribute.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

_NOTEBOOK = ("backtest", "candles", "datasets", "ticks")
__all__ = list(_NOTEBOOK)


def _function(name: str) -> Any:
    from quantumflux import notebook

    return getattr(notebook, name)


class _Entry:
    """A notebook function that also stands for the service package of the same name."""

    def __init__(self, name: str, package: ModuleType) -> None:
        self._name = name
        self._package = package

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _function(self._name)(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._package, attr)

    def __repr__(self) -> str:
        return f"<quantumflux.{self._name}: the notebook function and the {self._package.__name__} package>"


class _Package(ModuleType):
    def __getattribute__(self, name: str) -> Any:
        if name in _NOTEBOOK:
            held = ModuleType.__getattribute__(self, "__dict__").get(name)
            if isinstance(held, ModuleType):
                return _Entry(name, held)
            return _function(name)
        return ModuleType.__getattribute__(self, name)


sys.modules[__name__].__class__ = _Package
