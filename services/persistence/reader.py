"""The persistence service's reading process: stream entries → decoded chunks, over a pipe.

Reading entries from Redis and decoding them costs about as much as formatting and writing the
rows. In one Python process the two would take turns on one core, so the service starts this
small child process to read and decode while it formats, writes and commits. The child keeps
nothing worth keeping: it reads forward from the positions it is given (the ones already on disk),
and when anything goes wrong it says why and exits; the service then starts a new one from what
is on disk. It exits by itself when the service is gone.

    parent → child:  settings and positions, then ("add", {stream: id}) for streams found later
    child → parent:  ("chunks", [Chunk, …]) per read, or ("error", message) before it exits
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Any

from quantumflux.bus.connection import connect_sync
from quantumflux.bus.process import die_with_parent
from quantumflux.persistence.chunk import Chunk, ChunkDecoder
from quantumflux.persistence.config import PersistenceSettings

BLOCK_MS = 200


class ReaderGone(Exception):
    """The reading process stopped; the message says why."""


def _raw_reply(response: Any, **_: Any) -> Any:
    return response


def _items(resp: Any) -> Any:
    return resp.items() if isinstance(resp, dict) else resp


def run(commands: Connection, out: Connection) -> int:
    """The child's loop: read forward from every stream, decode, send; returns the exit code."""
    settings, positions, count = pickle.loads(commands.recv_bytes())
    assert isinstance(settings, PersistenceSettings)
    client = connect_sync(settings)
    # Entries are taken from Redis's reply as it comes: the generic parser would cost more than
    # the rest of the path together.
    client.set_response_callback("XREAD", _raw_reply)
    decoder = ChunkDecoder(
        ticks=settings.collect_ticks,
        candles=settings.collect_candles,
        payouts=settings.collect_payouts,
        orders=settings.collect_orders,
    )
    try:
        while True:
            while commands.poll():
                kind, body = pickle.loads(commands.recv_bytes())
                if kind == "add":
                    positions.update(body)
            if not positions:
                commands.poll(BLOCK_MS / 1000)
                continue
            keys = list(positions)
            try:
                resp = client.execute_command(  # type: ignore[no-untyped-call]
                    "XREAD",
                    "COUNT",
                    count,
                    "BLOCK",
                    BLOCK_MS,
                    "STREAMS",
                    *keys,
                    *[positions[k] for k in keys],
                )
            except Exception as exc:  # the service decides what it means; this process just stops
                out.send_bytes(pickle.dumps(("error", f"{type(exc).__name__}: {exc}")))
                return 1
            if not resp:
                continue
            chunks: list[Chunk] = []
            for stream, rows in _items(resp):
                key = stream.decode() if isinstance(stream, bytes) else str(stream)
                chunk = decoder.decode(key, rows)
                positions[key] = chunk.last_id
                chunks.append(chunk)
            out.send_bytes(pickle.dumps(("chunks", chunks), protocol=pickle.HIGHEST_PROTOCOL))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return 0  # the service is gone
    finally:
        client.close()


class Reader:
    """The service's handle on its reading process."""

    def __init__(self, settings: PersistenceSettings, positions: dict[str, str], count: int) -> None:
        cmd_read, cmd_write = os.pipe()
        out_read, out_write = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "quantumflux.persistence.reader", str(cmd_read), str(out_write)],
                pass_fds=(cmd_read, out_write),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(cmd_read)
            os.close(out_write)
        self.commands = Connection(cmd_write, readable=False)
        self.out = Connection(out_read, writable=False)
        self.commands.send_bytes(pickle.dumps((settings, dict(positions), count)))

    def add(self, positions: dict[str, str]) -> None:
        """Start reading these streams too, after these ids."""
        try:
            self.commands.send_bytes(pickle.dumps(("add", positions)))
        except OSError as exc:
            raise ReaderGone(f"the reading process stopped ({exc})") from None

    def _receive(self) -> list[Chunk]:
        try:
            kind, body = pickle.loads(self.out.recv_bytes())
        except (EOFError, OSError) as exc:
            code = self.proc.poll()
            raise ReaderGone(
                f"the reading process stopped (exit code {code}, {exc or 'end of pipe'})"
            ) from None
        if kind == "error":
            raise ReaderGone(str(body))
        return list(body)

    def take(self, limit: int, timeout: float) -> list[Chunk]:
        """What was read: wait up to ``timeout`` for some, then take what is ready, up to ``limit`` entries."""
        if not self.out.poll(timeout):
            if self.proc.poll() is not None:
                self._receive()  # says why it stopped
            return []
        chunks = self._receive()
        n = sum(c.entries for c in chunks)
        while n < limit and self.out.poll(0):
            more = self._receive()
            chunks += more
            n += sum(c.entries for c in more)
        return chunks

    def close(self) -> None:
        """Stop the reading process (entries it read ahead are simply read again next time)."""
        for conn in (self.commands, self.out):
            with contextlib.suppress(OSError):
                conn.close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def main(argv: list[str]) -> int:
    """Entry point of the child: ``python -m quantumflux.persistence.reader CMD_FD OUT_FD``."""
    die_with_parent(signal.SIGKILL)
    # Each read makes tens of thousands of short-lived lists and no cycles worth a collector's
    # time: collect rarely (parsing runs about a third faster).
    gc.freeze()
    gc.set_threshold(200_000, 50, 50)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service, which stops this one
    commands = Connection(int(argv[0]), writable=False)
    out = Connection(int(argv[1]), readable=False)
    return run(commands, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
