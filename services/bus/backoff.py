"""Exponential backoff with jitter, shared by every reconnect loop."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays that double from ``initial`` up to ``cap``; :meth:`reset` after a success."""

    initial: float = 0.2
    cap: float = 5.0
    factor: float = 2.0
    jitter: float = 0.1
    attempts: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """The next delay in seconds (and count the attempt)."""
        base = min(self.cap, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return base * (1 + random.uniform(-self.jitter, self.jitter)) if self.jitter else base

    def reset(self) -> None:
        """Start again from the initial delay."""
        self.attempts = 0
