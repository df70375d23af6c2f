"""The schema version and the field checks every record decoder shares.

A decoder never trusts a map from the bus: each field is checked here and a bad one raises
:class:`RecordError` whose ``kind`` readers count.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

SCHEMA_VERSION = 1
KNOWN_VERSIONS = frozenset({1})


class RecordError(ValueError):
    """An entry that is not a valid record; ``kind`` says why, for counting."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def is_number(val: object) -> TypeGuard[int | float]:
    """True for an int or float that is not a bool (msgpack gives both for numbers)."""
    return isinstance(val, int | float) and not isinstance(val, bool)


def num(obj: dict[str, Any], key: str) -> float:
    """A finite number."""
    val = obj.get(key)
    if not is_number(val) or not math.isfinite(val):
        raise RecordError("bad_field", f"{key} must be a finite number, got {val!r}")
    return float(val)


def real(obj: dict[str, Any], key: str) -> float:
    """Any number, NaN included (a strategy's confidence may be one)."""
    val = obj.get(key)
    if not is_number(val):
        raise RecordError("bad_field", f"{key} must be a number, got {val!r}")
    return float(val)


def whole(obj: dict[str, Any], key: str) -> int:
    """A whole number (a float without fraction is taken too)."""
    val = obj.get(key)
    if isinstance(val, bool) or not isinstance(val, int):
        if isinstance(val, float) and val.is_integer():
            return int(val)
        raise RecordError("bad_field", f"{key} must be a whole number, got {val!r}")
    return val


def name(obj: dict[str, Any], key: str) -> str:
    """A non-empty string."""
    val = obj.get(key)
    if not isinstance(val, str) or not val:
        raise RecordError("bad_field", f"{key} must be a non-empty string, got {val!r}")
    return val


def one_of(obj: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    """A string from a fixed set of words."""
    val = obj.get(key)
    if val not in allowed:
        raise RecordError("bad_field", f"{key} must be one of {', '.join(allowed)}, got {val!r}")
    return str(val)


def maybe_num(obj: dict[str, Any], key: str) -> float | None:
    """A finite number, or None when the field is absent or null."""
    return None if obj.get(key) is None else num(obj, key)


def maybe_whole(obj: dict[str, Any], key: str) -> int | None:
    """A whole number, or None when the field is absent or null."""
    return None if obj.get(key) is None else whole(obj, key)


def maybe_text(obj: dict[str, Any], key: str) -> str | None:
    """A string, or None when the field is absent or null."""
    val = obj.get(key)
    if val is None:
        return None
    if not isinstance(val, str):
        raise RecordError("bad_field", f"{key} must be a string or null, got {val!r}")
    return val


def params(obj: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A strategy's parameters: a map with string keys, or None when unknown."""
    val = obj.get(key)
    if val is None:
        return None
    if not isinstance(val, dict) or not all(isinstance(k, str) for k in val):
        raise RecordError("bad_field", f"{key} must be a map of parameters, got {val!r}")
    return dict(val)


def direction(obj: dict[str, Any], key: str = "direction") -> int:
    """+1 (call) or −1 (put)."""
    val = obj.get(key)
    if isinstance(val, bool) or val not in (1, -1):
        raise RecordError("bad_field", f"{key} must be 1 (call) or -1 (put), got {val!r}")
    return int(val)
