"""The page bridge: sends a few allowed frames through the broker socket of the trader's own page.

Only commands that ask the broker for something use it; ingest's capture stays passive. The names
are looked up on first use: every service checks its settings against ``bridge.config`` at start,
and must not pay for the CDP client (trio, websockets) that only the bridge's users need.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BridgeSettings": "config",
    "PageBridge": "page",
    **dict.fromkeys(
        (
            "ALLOWED_EVENTS",
            "BridgeError",
            "NoBrokerPage",
            "NoChrome",
            "NoOpenSocket",
            "NotAllowed",
            "SendUncertain",
            "outgoing_frame",
        ),
        "frames",
    ),
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
