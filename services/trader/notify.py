"""Sending notices with apprise (``QF_NOTIFY``) on a thread of its own.

A slow or unreachable notification service must never hold up an order: :meth:`Notifier.tell`
only puts the notice on a queue; one thread sends them in order and counts what failed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from quantumflux.trader.notices import Notice

log = logging.getLogger("qf.trader.notify")
QUEUE_SIZE = 1000


class Notifier:
    """Notices to the apprise URLs, sent in order by a background thread."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = tuple(urls)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[Notice | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        if self.urls:
            self._thread = threading.Thread(target=self._run, name="qf-notify", daemon=True)
            self._thread.start()

    def tell(self, notice: Notice | None) -> None:
        """Queue a notice (nothing when no URL is set); never waits."""
        if notice is None or self._thread is None:
            return
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self.dropped += 1

    def close(self, wait: float = 5.0) -> None:
        """Send what is queued (up to ``wait`` seconds), then stop the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=wait)
        except queue.Full:
            return
        self._thread.join(wait)

    def _run(self) -> None:
        import apprise  # heavy: imported only when notices are wanted

        sender = apprise.Apprise()
        for url in self.urls:
            if not sender.add(url):
                log.warning("QF_NOTIFY: apprise does not understand one of the URLs; it is skipped")
        while True:
            item = self._queue.get()
            if item is None:
                return
            title, body = item
            try:
                ok = bool(sender.notify(title=f"QuantumFlux: {title}", body=body))
            except Exception as exc:  # a plugin's own error must not end the thread
                log.warning("a notice could not be sent: %s", exc)
                ok = False
            if ok:
                self.sent += 1
            else:
                self.failed += 1
