"""The shape of an event's body: how it is declared, how a body compares, a sample without values (pure).

A shape names field names and value kinds only. :func:`compare` walks a body against a declared
shape and gives the first :class:`Difference` (a new or missing field, a changed kind, a changed
tuple length); :func:`sample` renders a body's shape with every value replaced by its kind, so a
drifted frame can be shown to the user, or shared, without a price, an id or a session in it.

Both are bounded: lists are judged by their first items and their last (a history of 1 800 ticks
costs as much as one of four), and :func:`sample` stops at a fixed depth and size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Kinds of JSON values, as the user reads them in a report.
NUMBER = "number"
TEXT = "text"
BOOL = "bool"
NULL = "null"
MAP = "map"
LIST = "list"

# A list is judged by this many first items, and by its last.
SAMPLE_ITEMS = 3
# A rendered sample shows a positional array whole up to this length (updateAssets rows: 19).
MAX_TUPLE = 24
MAX_KEYS = 40
MAX_DEPTH = 8
# Nodes in one rendered sample: a report stays small whatever arrived.
MAX_NODES = 400
ELLIPSIS = "…"
HIDDEN_KEY = "<key>"

_PLAIN_KEY = re.compile(r"[A-Za-z_#$@][A-Za-z0-9_./-]{0,31}")
_DIGIT_RUN = re.compile(r"\d{4,}")


def kind_of(value: Any) -> str:
    """The kind of a JSON value; ``int`` and ``float`` are both numbers (JSON does not tell them apart)."""
    t = type(value)
    if t is float or t is int:
        return NUMBER
    if t is str:
        return TEXT
    if t is bool:
        return BOOL
    if value is None:
        return NULL
    if t is dict:
        return MAP
    if t is list:
        return LIST
    return t.__name__  # not from JSON: a body built in code


# ---------------------------------------------------------------------- declaring shapes


@dataclass(frozen=True, slots=True)
class Value:
    """A scalar of one of these kinds."""

    kinds: frozenset[str]


@dataclass(frozen=True, slots=True)
class Anything:
    """A part of a body the decoder does not read: any content is known."""


@dataclass(frozen=True, slots=True)
class Fields:
    """A JSON object: required and optional fields; ``open`` when unnamed extra fields are expected."""

    required: dict[str, Shape]
    optional: dict[str, Shape] = field(default_factory=dict)
    open: bool = False


@dataclass(frozen=True, slots=True)
class Rows:
    """A list of items of one shape, any length (ticks, candles, deals, asset rows)."""

    item: Shape


@dataclass(frozen=True, slots=True)
class Tuple:
    """A positional array: ``[asset, time, price]``; trailing fields from ``min_len`` on are optional."""

    items: tuple[Shape, ...]
    min_len: int


@dataclass(frozen=True, slots=True)
class Either:
    """Known variants of one part (the flat and the nested tick, a candle or a tick item)."""

    options: tuple[Shape, ...]


Shape = Value | Anything | Fields | Rows | Tuple | Either


def value(*kinds: str) -> Value:
    return Value(frozenset(kinds))


def tuple_of(*items: Shape, min_len: int | None = None) -> Tuple:
    return Tuple(items, len(items) if min_len is None else min_len)


def either(*options: Shape) -> Either:
    return Either(options)


# ---------------------------------------------------------------------- comparing


@dataclass(frozen=True, slots=True)
class Difference:
    """The first place a body differs from its known shape.

    ``kind`` is ``new_field``, ``missing_field``, ``type`` or ``length``; ``path`` names the
    place (``body.data[*].volume``, ``body[*][2]``); ``found`` and ``known`` are kinds or lengths.
    """

    kind: str
    path: str
    found: str = ""
    known: str = ""

    def describe(self) -> str:
        if self.kind == "new_field":
            return f"new field {self.path} ({self.found})"
        if self.kind == "missing_field":
            return f"field {self.path} is missing"
        if self.kind == "length":
            return f"{self.path} has {self.found} fields, known {self.known}"
        return f"{self.path} is {self.found}, known {self.known}"


def compare(body: Any, shape: Shape, path: str = "body") -> Difference | None:
    """The first difference between a body and its shape, or None when the body has that shape."""
    if isinstance(shape, Value):
        found = kind_of(body)
        return None if found in shape.kinds else _changed(path, found, shape)
    if isinstance(shape, Fields):
        return _compare_fields(body, shape, path)
    if isinstance(shape, Rows):
        if type(body) is not list:
            return _changed(path, kind_of(body), shape)
        item_path = path + "[*]"
        for item in _judged(body):
            diff = compare(item, shape.item, item_path)
            if diff is not None:
                return diff
        return None
    if isinstance(shape, Tuple):
        return _compare_tuple(body, shape, path)
    if isinstance(shape, Either):
        return _compare_either(body, shape, path)
    return None  # Anything


def _judged(items: list[Any]) -> list[Any]:
    if len(items) <= SAMPLE_ITEMS + 1:
        return items
    return [*items[:SAMPLE_ITEMS], items[-1]]


def _compare_fields(body: Any, shape: Fields, path: str) -> Difference | None:
    if type(body) is not dict:
        return _changed(path, kind_of(body), shape)
    required = shape.required
    optional = shape.optional
    for key, item in body.items():
        sub = required.get(key) or optional.get(key)
        if sub is None:
            if shape.open:
                continue
            return Difference("new_field", f"{path}.{safe_key(key)}", kind_of(item))
        diff = compare(item, sub, f"{path}.{key}")
        if diff is not None:
            return diff
    for key in required:
        if key not in body:
            return Difference("missing_field", f"{path}.{key}")
    return None


def _compare_tuple(body: Any, shape: Tuple, path: str) -> Difference | None:
    if type(body) is not list:
        return _changed(path, kind_of(body), shape)
    items = shape.items
    n = len(body)
    if n > len(items):
        # Fields added at the end of a positional array: the first one names the change.
        return Difference("new_field", f"{path}[{len(items)}]", kind_of(body[len(items)]))
    if n < shape.min_len:
        return Difference("length", path, str(n), _lengths(shape))
    for i in range(n):
        diff = compare(body[i], items[i], f"{path}[{i}]")
        if diff is not None:
            return diff
    return None


def _compare_either(body: Any, shape: Either, path: str) -> Difference | None:
    # Against the variant the body follows furthest: a tick row with a text price is a changed
    # price, not "not a flat tick"; a candle without its close is not a tick item with extras.
    best: Difference | None = None
    best_score = (-1, -1)
    for option in shape.options:
        diff = compare(body, option, path)
        if diff is None:
            return None
        score = (_depth(diff.path), _known_fields(body, option))
        if score > best_score:
            best, best_score = diff, score
    return best


def _depth(path: str) -> int:
    return path.count(".") + path.count("[")


def _known_fields(body: Any, shape: Shape) -> int:
    if type(body) is not dict or not isinstance(shape, Fields):
        return 0
    return sum(1 for key in body if key in shape.required or key in shape.optional)


def _changed(path: str, found: str, shape: Shape) -> Difference:
    return Difference("type", path, found, " or ".join(sorted(_kinds(shape))))


def _kinds(shape: Shape) -> set[str]:
    if isinstance(shape, Value):
        return set(shape.kinds)
    if isinstance(shape, Fields):
        return {MAP}
    if isinstance(shape, Rows | Tuple):
        return {LIST}
    if isinstance(shape, Either):
        return {k for option in shape.options for k in _kinds(option)}
    return {"anything"}


def _lengths(shape: Tuple) -> str:
    top = len(shape.items)
    return str(top) if shape.min_len == top else f"{shape.min_len} to {top}"


# ---------------------------------------------------------------------- a sample without values


def safe_key(key: Any) -> str:
    """A field name as shown in a report: names stay, anything that may be data is hidden."""
    if type(key) is str and _PLAIN_KEY.fullmatch(key) and not _DIGIT_RUN.search(key):
        return key
    return HIDDEN_KEY


def sample(body: Any) -> Any:
    """The body with every value replaced by its kind: field names, nesting and tuple lengths only."""
    return _Sampler().render(body, 0)


class _Sampler:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0

    def render(self, body: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            return ELLIPSIS
        t = type(body)
        if t is dict:
            out: dict[str, Any] = {}
            for i, (key, item) in enumerate(body.items()):
                if i >= MAX_KEYS:
                    out[ELLIPSIS] = ELLIPSIS
                    break
                out[safe_key(key)] = self.render(item, depth + 1)
            return out
        if t is list:
            if len(body) <= MAX_TUPLE:
                return [self.render(item, depth + 1) for item in body]
            return [self.render(item, depth + 1) for item in body[:SAMPLE_ITEMS]] + [ELLIPSIS]
        return kind_of(body)
