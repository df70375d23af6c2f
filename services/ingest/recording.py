"""Recordings: captured frames as JSON lines, with every credential removed on the way to disk.

A recording never carries a secret: the ``auth`` frame's session and uid, and any token-, cookie-
or secret-shaped value, in any frame (text, or binary: base64 decoded, cleaned, encoded again)
and in URL query strings, are replaced by :data:`PLACEHOLDER`. Market data is left byte for byte
as it came. Such a recording still holds the balance and the deals; one made to be sent to
others is written with ``share=True`` (:mod:`quantumflux.ingest.share`), which keeps the market data
only and reduces everything else to its shape.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from quantumflux.ingest.frames import Frame
from quantumflux.ingest.share import ShareFilter

_loads: Callable[[str | bytes], Any]
try:  # orjson reads a line about 3x faster; replay speed depends on it
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

PLACEHOLDER = "REDACTED"

# JSON keys whose values are credentials or identify the user.
_SECRET_KEY = re.compile(
    r"(?i)session|token|secret|ssid|passw|cookie|credential|api_?key|signature|^auth|bearer"
    r"|^uid$|^user_?id$|^email$|^ip_?address$|^ip$"
)
# Query parameters that are plainly not secret; every other value in a query string is replaced.
_SAFE_QUERY = frozenset({"EIO", "transport"})
# Values that look like credentials wherever they appear.
_SECRET_VALUE = [
    # a PHP-serialised session blob, optionally followed by its hash
    re.compile(r"a:\d+:\{[^{}]*\}[0-9a-fA-F]*"),
    # JSON Web Tokens
    re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"),
    # Authorization headers
    re.compile(r"(?i)(bearer|basic)\s+[\w.~+/=-]{8,}"),
    # long hex or base64url strings: session ids, hashes, API tokens
    re.compile(r"(?<![\w.])[0-9a-fA-F]{24,}(?![\w.])"),
    re.compile(r"(?<![\w.])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{40,}(?![\w.])"),
]
# key=value pairs (cookies, query strings, form bodies) whose key is secret-shaped.
_SECRET_PAIR = re.compile(
    r"(?i)(\b[\w.-]*(?:session|token|secret|ssid|passw|cookie|auth|api_?key|signature|uid)[\w.-]*=)"
    r"([^;&\s\"',]+)"
)
# "key": value pairs inside text that is not valid JSON (also with escaped quotes).
_SECRET_JSON_PAIR = re.compile(
    r"(?i)((\\?\")[^\"\\]*(?:session|token|secret|ssid|passw|cookie|uid)[^\"\\]*\2\s*:\s*)"
    r"(\\?\"(?:\\.|[^\"\\])*?(?:\\?\"(?=\s*[,}\]])|$)|-?\d[\d.]*)"
)


def _scrub_text(text: str) -> str:
    """Replace secret-shaped pieces of free text."""
    text = _SECRET_JSON_PAIR.sub(lambda m: m.group(1) + m.group(2) + PLACEHOLDER + m.group(2), text)
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + PLACEHOLDER, text)
    for pattern in _SECRET_VALUE:
        text = pattern.sub(PLACEHOLDER, text)
    return text


def _scrub(obj: Any) -> Any:
    """A copy of a JSON value with credentials replaced."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, str) and _SECRET_KEY.search(k) and v not in (None, "", 0, False):
                out[k] = PLACEHOLDER
            else:
                out[k] = _scrub(v)
        return out
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    if isinstance(obj, str):
        return _scrub_text(obj)
    return obj


def redact_url(url: str | None) -> str | None:
    """The URL with user info, fragment and every query value but the harmless ones replaced."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = PLACEHOLDER + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, v if k in _SAFE_QUERY else PLACEHOLDER) for k, v in pairs], safe="")
        fragment = PLACEHOLDER if parts.fragment else ""
        return urlunsplit((parts.scheme, netloc, _scrub_text(parts.path), query, fragment))
    except ValueError:
        return _scrub_text(url)


_PACKET_PREFIX = re.compile(r"\d*-?(?:/[^,\[{]*,)?\d*")
# A binary-event header carries no data of its own: `451-["updateStream",{"_placeholder":true,"num":0}]`.
_HEADER = re.compile(r'45\d+-\["[\w/.-]{1,64}",\{"_placeholder":true,"num":\d+\}\]')


def _redact_text(text: str) -> str:
    start = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=-1)
    if start >= 0 and _PACKET_PREFIX.fullmatch(text[:start]):
        try:
            obj = json.loads(text[start:])
        except ValueError:
            return _scrub_text(text)
        clean = _scrub(obj)
        if clean == obj:
            # Nothing to remove: keep the bytes exactly as they came.
            return text
        return text[:start] + json.dumps(clean, separators=(",", ":"), ensure_ascii=False)
    return _scrub_text(text)


def _redact_binary(payload: str) -> str:
    try:
        raw = base64.b64decode(payload, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        # Not text we can read: look for credentials in its printable parts all the same.
        try:
            raw = base64.b64decode(payload)
        except (binascii.Error, ValueError):
            return payload
        decoded = raw.decode("latin-1")
        cleaned = _scrub_text(decoded)
        if cleaned == decoded:
            return payload
        return base64.b64encode(cleaned.encode("latin-1", errors="replace")).decode("ascii")
    cleaned = _redact_text(text)
    if cleaned == text:
        return payload
    return base64.b64encode(cleaned.encode("utf-8")).decode("ascii")


def redact(frame: Frame) -> Frame:
    """The frame with every credential replaced by ``REDACTED``; market data is left untouched."""
    payload = frame.payload
    if frame.opcode == 2:
        payload = _redact_binary(payload)
    elif payload not in ("2", "3", "40") and not _HEADER.fullmatch(payload):
        payload = _redact_text(payload)
    url = redact_url(frame.url)
    if payload is frame.payload and url == frame.url:
        return frame
    return Frame(frame.ts, frame.dir, frame.socket, url, frame.opcode, payload)


class RecordingWriter:
    """Appends redacted frames to a JSON-lines file; use as a context manager.

    Lines are flushed when ``flush_every`` seconds have passed since the last flush (by default
    after every line) and on close, so a recording stopped abruptly loses at most that much.
    With ``share`` only market data is kept (on the sockets ``url_pattern`` says are the
    broker's); every other frame is written as its shape.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_every: float = 0.0,
        share: bool = False,
        url_pattern: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self._share = ShareFilter(url_pattern) if share else None
        self.frames = 0
        self._file: IO[str] | None = None
        self._last_flush = 0.0

    def __enter__(self) -> RecordingWriter:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Open the file for appending (creating it and its folder if needed)."""
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            self._last_flush = time.monotonic()

    def write(self, frame: Frame) -> None:
        """Redact the frame (or, to share, keep its market data only) and append it as one line."""
        if self._file is None:
            self.open()
        assert self._file is not None
        if self._share is not None:
            frame, market_data = self._share.share(frame)
            if market_data:
                frame = redact(frame)
        else:
            frame = redact(frame)
        line = json.dumps(frame.to_json(), ensure_ascii=False, separators=(", ", ": "))
        self._file.write(line + "\n")
        self.frames += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every:
            self._file.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Push what was written to the operating system now."""
        if self._file is not None:
            self._file.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None


class RecordingReader:
    """Iterates the frames of a recording; bad lines are counted in :attr:`bad_lines` and skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = self.path.open("r", encoding="utf-8", errors="replace")
        self.bad_lines = 0
        self.errors: list[str] = []  # the first few problems, with their line numbers
        self.line_no = 0

    def __iter__(self) -> Iterator[Frame]:
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        try:
            for line in self._file:
                self.line_no += 1
                if not line.strip():
                    continue
                try:
                    frame = Frame.from_json(_loads(line))
                except ValueError as exc:
                    self.bad_lines += 1
                    if len(self.errors) < 10:
                        self.errors.append(f"line {self.line_no}: {exc}")
                    continue
                yield frame
        finally:
            self._file.close()

    def close(self) -> None:
        """Close the file before the end was reached."""
        self._file.close()


def read_recording(path: str | Path) -> RecordingReader:
    """Open a recording for reading; raises OSError only when the file cannot be opened.

    Iterate the result for the frames; its ``bad_lines`` counts lines that were skipped.
    """
    return RecordingReader(path)
