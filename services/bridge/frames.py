"""What the bridge may send and when (pure): the allowed frames, the broker's socket, the pace.

The bridge only ever sends frames the broker's page itself sends: a ``42["event",{…}]`` text
frame whose event is on :data:`ALLOWED_EVENTS` and whose body has the fields the page puts in it.
An order (``openOrder``) is checked beyond its fields: a call or a put, the broker's only option
type, a positive amount and an expiry of at least the broker's 5 seconds; the trading safety
rules (services/trader) decide whether to send one at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from quantumflux.ingest.decoder import DEFAULT_WS_URL_PATTERN, OWN_SOCKET

HISTORY_FIELDS = frozenset({"asset", "index", "time", "offset", "period"})
ORDER_FIELDS = frozenset({"asset", "amount", "action", "isDemo", "requestId", "optionType", "time"})
# event -> the fields its body must carry (the page sends exactly these)
ALLOWED_EVENTS: dict[str, frozenset[str]] = {
    "loadHistoryPeriod": HISTORY_FIELDS,
    "loadHistoryPeriodFast": HISTORY_FIELDS,
    "openOrder": ORDER_FIELDS,
}
OPTION_TYPE = 100  # the broker's only kind of option
MIN_ORDER_SECONDS = 5
OPEN = 1  # WebSocket.readyState of an open socket


class BridgeError(Exception):
    """The bridge cannot do what was asked; the message says why in plain words."""


class NotAllowed(BridgeError):
    """A frame the page itself never sends: refused before anything reaches the browser."""


class NoChrome(BridgeError):
    """Nothing answers at the debugging address; the caller may retry with backoff."""


class NoBrokerPage(BridgeError):
    """No page, frame or worker holds a socket to the broker."""


class NoOpenSocket(BridgeError):
    """The broker's socket exists but is not open (the page is probably reconnecting)."""


class SendUncertain(BridgeError):
    """Chrome's answer to a send was lost: the frame may have gone out, so it is not sent again."""


def outgoing_frame(event: str, body: dict[str, Any]) -> str:
    """The text frame the page would send for ``event`` with ``body``; raises :class:`NotAllowed`."""
    fields = ALLOWED_EVENTS.get(event)
    if fields is None:
        allowed = ", ".join(sorted(ALLOWED_EVENTS))
        raise NotAllowed(f"{event!r} is not a frame the broker's page sends (allowed: {allowed})")
    if not isinstance(body, dict):
        raise NotAllowed(f"{event}: the body must be an object")
    if set(body) != fields:
        raise NotAllowed(f"{event}: the body must have exactly the fields {', '.join(sorted(fields))}")
    if event == "openOrder":
        _check_order(body)
    try:
        text = json.dumps([event, body], separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise NotAllowed(f"{event}: the body is not plain JSON ({exc})") from None
    return "42" + text


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_order(body: dict[str, Any]) -> None:
    """An ``openOrder`` body as the page sends it, or :class:`NotAllowed` naming what is wrong."""
    if not isinstance(body["asset"], str) or not body["asset"]:
        raise NotAllowed("openOrder: asset must be an asset name")
    if body["action"] not in ("call", "put"):
        raise NotAllowed("openOrder: action must be call or put")
    if body["optionType"] != OPTION_TYPE or not _number(body["optionType"]):
        raise NotAllowed(f"openOrder: optionType must be {OPTION_TYPE}")
    if not _number(body["amount"]) or not body["amount"] > 0:
        raise NotAllowed("openOrder: amount must be a number above 0")
    seconds = body["time"]
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < MIN_ORDER_SECONDS:
        raise NotAllowed(f"openOrder: time must be whole seconds, at least {MIN_ORDER_SECONDS}")
    if body["isDemo"] not in (0, 1) or isinstance(body["isDemo"], bool):
        raise NotAllowed("openOrder: isDemo must be 0 or 1")
    rid = body["requestId"]
    if not (isinstance(rid, str) and rid) and not (isinstance(rid, int) and not isinstance(rid, bool)):
        raise NotAllowed("openOrder: requestId must be a number or a text")


def socket_pattern(pattern: str | None) -> re.Pattern[str]:
    """The broker's socket URLs: the given pattern, or the one ingest's decoder uses."""
    try:
        return re.compile(pattern or DEFAULT_WS_URL_PATTERN)
    except re.error as exc:
        raise BridgeError(f"the broker's socket URL pattern is not a valid expression: {exc}") from None


def is_broker_socket(url: str, pattern: re.Pattern[str]) -> bool:
    """Whether a socket URL is the broker's (QuantumFlux's own web app never is)."""
    return bool(pattern.search(url)) and not OWN_SOCKET.search(url)


def pick_socket(sockets: Sequence[Sequence[Any]], pattern: re.Pattern[str]) -> tuple[int | None, bool]:
    """Among ``[readyState, url]`` rows, the index of the open broker socket (the first found),
    and whether any broker socket was there at all (open or not)."""
    seen = False
    for i, row in enumerate(sockets):
        if len(row) != 2 or not isinstance(row[1], str) or not is_broker_socket(row[1], pattern):
            continue
        seen = True
        if row[0] == OPEN:
            return i, True
    return None, seen


class Pacer:
    """At least ``gap`` seconds between two sends; the caller says what time it is."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self._last: float | None = None

    def delay(self, now: float) -> float:
        """How long to wait before sending at ``now``."""
        return 0.0 if self._last is None else max(0.0, self._last + self.gap - now)

    def sent(self, now: float) -> None:
        """A frame went out at ``now``."""
        self._last = now
