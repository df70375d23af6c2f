"""Runs services as child processes the way compose would: restarts the ones that die, stops all on exit.

Each child runs in its own process group (so a Ctrl-C reaches only this supervisor, which then
stops the children in order) and is told by the kernel to stop if the supervisor itself dies,
so no process of the stack is ever left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from quantumflux.bus.process import die_with_parent


@dataclass
class Child:
    """One process of the stack: a name for the logs, its command line and extra environment."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    restart: bool = True
    ready: Callable[[], bool] | None = None  # waited for before the next child starts


@dataclass
class RestartPolicy:
    """Restart with backoff (1 s, 2 s, 4 s … 30 s); give up after ``limit`` restarts within ``window`` seconds."""

    limit: int = 5
    window: float = 60.0
    history: deque[float] = field(default_factory=deque)

    def delay(self, now: float) -> float | None:
        """Seconds to wait before the next restart, or None to give up."""
        while self.history and now - self.history[0] > self.window:
            self.history.popleft()
        if len(self.history) >= self.limit:
            return None
        d = min(30.0, 2.0 ** len(self.history))
        self.history.append(now)
        return d


def _own_group_dying_with_us() -> None:
    # Own process group: a Ctrl-C in the terminal reaches only the supervisor, which stops the
    # children in order; SIGTERM (not SIGKILL) lets a child whose supervisor died finish cleanly.
    os.setsid()
    die_with_parent(signal.SIGTERM)


class Supervisor:
    """Start children, relay their output with a name prefix, restart them, stop them all."""

    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        *,
        restart_limit: int = 5,
        stop_timeout: float = 10.0,
        out: Callable[[str], None] | None = None,
    ) -> None:
        self.children = list(children)
        self.env = dict(env)
        self.stop_timeout = stop_timeout
        self.out = out or (lambda line: print(line, flush=True))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.policies = {c.name: RestartPolicy(limit=restart_limit) for c in self.children}
        self.gave_up: set[str] = set()
        self._restart_at: dict[str, float] = {}
        self._stopping = threading.Event()
        self._width = max((len(c.name) for c in self.children), default=8)

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            self.out(f"{name:<{self._width}} | {raw.decode(errors='replace').rstrip()}")

    def start(self, child: Child) -> subprocess.Popen[bytes]:
        """Start one child now."""
        env = dict(self.env)
        env.update(child.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        proc = subprocess.Popen(
            child.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_own_group_dying_with_us,
        )
        self.procs[child.name] = proc
        threading.Thread(target=self._pump, args=(child.name, proc), daemon=True).start()
        return proc

    def start_all(self) -> None:
        """Start every child in order."""
        for child in self.children:
            self.start(child)
            if child.ready is not None and not child.ready():
                self.out(f"!!! {child.name} did not become ready; starting the rest anyway")

    def poll(self) -> None:
        """Restart children that died (with backoff), giving up loudly after repeated failures."""
        now = time.monotonic()
        for child in self.children:
            if child.name in self.gave_up or self._stopping.is_set():
                continue
            proc = self.procs.get(child.name)
            if proc is None or proc.poll() is None:
                continue
            due = self._restart_at.get(child.name)
            if due is None:
                if not child.restart:
                    self.gave_up.add(child.name)
                    self.out(f"{child.name} stopped (exit code {proc.returncode}).")
                    continue
                delay = self.policies[child.name].delay(now)
                if delay is None:
                    self.gave_up.add(child.name)
                    self.out(
                        f"!!! {child.name} keeps failing (exit code {proc.returncode}); "
                        f"not restarting it again. Look at its messages above."
                    )
                    continue
                self.out(
                    f"{child.name} stopped unexpectedly (exit code {proc.returncode}); restarting in {delay:.0f} s"
                )
                self._restart_at[child.name] = now + delay
            elif now >= due:
                del self._restart_at[child.name]
                self.start(child)

    def stop_all(self) -> None:
        """Stop children in reverse order: SIGTERM to each process group, then SIGKILL after the timeout."""
        self._stopping.set()
        live = [(n, p) for n, p in reversed(list(self.procs.items())) if p.poll() is None]
        for _, proc in live:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + self.stop_timeout
        for name, proc in live:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.out(f"{name} did not stop in {self.stop_timeout:.0f} s; killing it")
        for _, proc in self.procs.items():
            # Anything left in a child's group (its own children included) goes now.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def run(self, ready: Callable[[], None] | None = None) -> int:
        """Start everything and supervise until SIGINT/SIGTERM; returns 0, or 1 if a child was given up on."""
        got: list[int] = []

        def on_signal(signum: int, _frame: object) -> None:
            got.append(signum)
            self._stopping.set()

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.start_all()
            if ready is not None:
                ready()
            while not self._stopping.wait(0.2):
                self.poll()
        finally:
            self.out("Stopping QuantumFlux…")
            self.stop_all()
            for s, h in old.items():
                signal.signal(s, h)
            self.out("Stopped.")
        return 1 if self.gave_up else 0


def python_child(name: str, command: str, *args: str, restart: bool = True) -> Child:
    """A child that runs ``qf <command> <args>`` with this Python.

    It keeps one name across restarts (``QF_INSTANCE``, unless the user set one), so a restarted
    service takes its own leases back at once instead of waiting them out.
    """
    env = {} if "QF_INSTANCE" in os.environ else {"QF_INSTANCE": f"{socket.gethostname()}-{name}"}
    return Child(
        name=name, argv=[sys.executable, "-m", "quantumflux.qf", command, *args], env=env, restart=restart
    )
