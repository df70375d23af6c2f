"""One captured WebSocket frame, as recorded and as fed to the decoder."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("recv", "sent")


@dataclass(frozen=True, slots=True)
class Frame:
    """A WebSocket frame seen by the capture.

    ``ts`` is the capture wall time (epoch seconds, UTC); ``dir`` is ``"recv"``
    (server to page) or ``"sent"`` (page to server); ``socket`` is a stable id of
    one WebSocket; ``url`` is None when unknown (the socket existed before the
    capture attached); ``opcode`` is 1 for text and 2 for binary; ``payload`` is
    the text as is, or the binary body as base64 (as CDP gives it).
    """

    ts: float
    dir: str
    socket: str
    url: str | None
    opcode: int
    payload: str

    def to_json(self) -> dict[str, Any]:
        """The recording line: ``{ts, dir, socket, url, opcode, payload}``."""
        return {
            "ts": self.ts,
            "dir": self.dir,
            "socket": self.socket,
            "url": self.url,
            "opcode": self.opcode,
            "payload": self.payload,
        }

    @classmethod
    def from_json(cls, obj: Any) -> Frame:
        """Build a frame from a recording line; raise ValueError saying what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError(f"a frame must be a JSON object, got {type(obj).__name__}")
        missing = [k for k in ("ts", "dir", "socket", "opcode", "payload") if k not in obj]
        if missing:
            raise ValueError(f"frame is missing {', '.join(missing)}")
        ts = obj["ts"]
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
            raise ValueError(f"frame ts must be a number of seconds, got {ts!r}")
        direction = obj["dir"]
        if direction not in DIRECTIONS:
            raise ValueError(f"frame dir must be 'recv' or 'sent', got {direction!r}")
        socket = obj["socket"]
        if not isinstance(socket, str) or not socket:
            raise ValueError(f"frame socket must be a non-empty string, got {socket!r}")
        url = obj.get("url")
        if url is not None and not isinstance(url, str):
            raise ValueError(f"frame url must be a string or null, got {url!r}")
        opcode = obj["opcode"]
        if isinstance(opcode, bool) or opcode not in (1, 2):
            raise ValueError(f"frame opcode must be 1 (text) or 2 (binary), got {opcode!r}")
        payload = obj["payload"]
        if not isinstance(payload, str):
            raise ValueError(f"frame payload must be a string, got {type(payload).__name__}")
        return cls(float(ts), direction, socket, url, int(opcode), payload)
