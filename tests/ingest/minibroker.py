"""A tiny broker-shaped WebSocket server for capture tests and the benchmark.

It serves a page at ``/`` that opens ``/socket.io/?EIO=4&transport=websocket`` and answers the
Engine.IO handshake; once connected the server streams ``updateStream`` ticks as the broker does
(a ``451-`` text header, then a binary JSON body), at a given rate, and remembers every frame it
sent so a test can compare exactly. Frames the page sends are kept too.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.http11 import Response
from websockets.sync.server import ServerConnection, serve

BROKER_OFFSET = 7200.0
HEADER = '451-["updateStream",{"_placeholder":true,"num":0}]'

PAGE = """<!doctype html><html><head><title>mini broker</title></head><body><script>
window.got = 0;
const ws = new WebSocket("ws://" + location.host + "/socket.io/?EIO=4&transport=websocket");
ws.binaryType = "arraybuffer";
ws.onmessage = (m) => {
  window.got++;
  if (typeof m.data === "string") {
    if (m.data.startsWith("0{")) ws.send("40");
    else if (m.data === "2") ws.send("3");
  }
};
window.pick = (asset, period) => ws.send('42["changeSymbol",' + JSON.stringify({asset, period}) + ']');
</script></body></html>"""


@dataclass
class Sent:
    """What the server sent on one connection, in order."""

    frames: list[tuple[int, str | bytes]] = field(default_factory=list)  # (opcode, payload)
    ticks: list[tuple[str, float, float]] = field(default_factory=list)  # (asset, utc ts, price)
    received: list[str | bytes] = field(default_factory=list)


class MiniBroker:
    """Start with ``with MiniBroker(rate=..., count=...) as b:``; ``b.page`` is the page URL."""

    def __init__(self, *, rate: float = 50.0, count: int = 100, assets: tuple[str, ...] = ("EURUSD_otc",)):
        self.rate = rate
        self.count = count
        self.assets = assets
        self.connections: list[Sent] = []
        self._lock = threading.Lock()
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._http,
            compression=None,
            max_size=2**24,
            close_timeout=1,
        )
        self.port = self._server.socket.getsockname()[1]
        self.page = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.done = threading.Event()
        self._stopping = threading.Event()

    def _http(self, _conn: ServerConnection, request: object) -> Response | None:
        path = getattr(request, "path", "/")
        if path.startswith("/socket.io/"):
            return None
        body = PAGE.encode()
        headers = Headers([("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
        return Response(HTTPStatus.OK.value, "OK", headers, body)

    def _handle(self, conn: ServerConnection) -> None:
        sent = Sent()
        with self._lock:
            self.connections.append(sent)

        def send(payload: str | bytes) -> None:
            conn.send(payload)
            sent.frames.append((1 if isinstance(payload, str) else 2, payload))

        send('0{"sid":"mini","upgrades":[],"pingInterval":25000,"pingTimeout":20000}')
        first = conn.recv()
        sent.received.append(first)
        send('40{"sid":"mini2"}')
        reader = threading.Thread(target=self._read, args=(conn, sent), daemon=True)
        reader.start()
        start = time.monotonic()
        try:
            for i in range(self.count):
                if self._stopping.is_set():
                    return
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                asset = self.assets[i % len(self.assets)]
                broker_ts = round(time.time() + BROKER_OFFSET, 3)
                price = round(1.1 + (i % 997) * 1e-5, 5)
                send(HEADER)
                send(json.dumps([[asset, broker_ts, price]]).encode())
                sent.ticks.append((asset, broker_ts - BROKER_OFFSET, price))
        except Exception:
            return
        self.done.set()
        while not self._stopping.wait(0.1) and reader.is_alive():
            pass

    def _read(self, conn: ServerConnection, sent: Sent) -> None:
        try:
            for msg in conn:
                sent.received.append(msg)
        except Exception:
            pass

    def __enter__(self) -> MiniBroker:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
