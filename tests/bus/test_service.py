"""The workers' shared shell: stop on SIGTERM/SIGINT, status events, waiting for Redis while it is away."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import redis

from quantumflux.bus.config import BusSettings
from quantumflux.bus.connection import connect_sync
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import decode_fields
from quantumflux.bus.service import ServiceShell


class Shell(ServiceShell):
    def __init__(self, settings: BusSettings) -> None:
        super().__init__("demo", logging.getLogger("qf.test.shell"))
        self.settings = settings
        self.keys = Keys(settings.prefix)
        self.client = connect_sync(settings)


def status_events(rclient, prefix: str) -> list[dict]:
    out = []
    for _id, fields in rclient.xrange(Keys(prefix).events()):
        event = decode_fields(fields)
        out.append(dict(event.data, type=event.type, ts=event.ts))
    return out


def test_report_publishes_a_status_event_and_keeps_the_state(bus_settings, rclient, prefix) -> None:
    shell = Shell(bus_settings)
    assert shell._state == "starting"
    shell.report("running", "all good", streams=3)
    assert shell._state == "running"
    [event] = status_events(rclient, prefix)
    assert event["type"] == "service_status"
    assert (event["service"], event["state"], event["message"], event["streams"]) == (
        "demo",
        "running",
        "all good",
        3,
    )


def test_statuses_told_while_redis_is_away_are_published_in_order_when_it_is_back(
    tmp_path: Path, private_redis
) -> None:
    settings = BusSettings(redis_url=private_redis.url, prefix="p", data_dir=tmp_path)
    shell = Shell(settings)
    shell.report("running", "up")
    private_redis.stop()
    shell.report("degraded", "Redis is away")  # no exception
    assert shell._state == "degraded"
    private_redis.start()
    shell.report("recovered", "Redis is back")
    client = redis.Redis.from_url(private_redis.url)
    told = [(e["state"], e["message"]) for e in status_events(client, "p")]
    assert told == [("running", "up"), ("degraded", "Redis is away"), ("recovered", "Redis is back")]
    stamps = [e["ts"] for e in status_events(client, "p")]
    assert stamps == sorted(stamps)  # each stamped when it happened, not when it was sent


def test_connect_waits_for_redis_and_says_so_once(tmp_path: Path, private_redis, caplog) -> None:
    settings = BusSettings(redis_url=private_redis.url, prefix="p", data_dir=tmp_path)
    shell = Shell(settings)
    private_redis.stop()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(shell.connect()), daemon=True)
    with caplog.at_level(logging.WARNING, logger="qf.test.shell"):
        waiter.start()
        deadline = time.monotonic() + 30
        while shell._state != "degraded" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shell._state == "degraded"
        assert "does not answer" in shell._last_problem
        time.sleep(1.5)  # several more tries, each with the same problem
        private_redis.start()
        waiter.join(timeout=30)
    assert result == [True]
    said = [r.getMessage() for r in caplog.records if "does not answer" in r.getMessage()]
    assert len(said) == len(set(said)) >= 1  # the same problem is logged once, not on every try


def test_connect_gives_up_when_asked_to_stop(tmp_path: Path, private_redis) -> None:
    settings = BusSettings(redis_url=private_redis.url, prefix="p", data_dir=tmp_path)
    shell = Shell(settings)
    private_redis.stop()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(shell.connect()), daemon=True)
    waiter.start()
    time.sleep(0.5)
    shell.stop()
    waiter.join(timeout=30)
    assert result == [False]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_ask_the_loop_to_stop(bus_settings, signum: int) -> None:
    shell = Shell(bus_settings)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        shell.handle_stop_signals()
        assert shell._stop is False
        os.kill(os.getpid(), signum)
        deadline = time.monotonic() + 10
        while not shell._stop and time.monotonic() < deadline:
            time.sleep(0.01)
        assert shell._stop is True
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_pause_ends_as_soon_as_the_shell_is_asked_to_stop(bus_settings) -> None:
    shell = Shell(bus_settings)
    assert shell.pause(0.01) is False
    threading.Timer(0.2, shell.stop).start()
    started = time.monotonic()
    assert shell.pause(30) is True
    assert time.monotonic() - started < 10
    assert shell._stop is True
    shell._stop = False  # loops written with the flag can still clear it
    assert not shell.stopping.is_set()


def test_a_shared_stop_event_stops_the_shell(bus_settings) -> None:
    event = threading.Event()
    shell = ServiceShell("demo", logging.getLogger("qf.test.shell"), event)
    event.set()
    assert shell._stop is True


def test_stop_signals_are_left_alone_off_the_main_thread(bus_settings) -> None:
    shell = Shell(bus_settings)
    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=shell.handle_stop_signals)
    worker.start()
    worker.join(timeout=10)
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_outage_is_told_once_then_the_recovery(tmp_path: Path, private_redis) -> None:
    settings = BusSettings(redis_url=private_redis.url, prefix="p", data_dir=tmp_path)
    shell = Shell(settings)
    private_redis.stop()
    result: list[bool] = []
    waiter = threading.Thread(
        target=lambda: result.append(shell.ride_out_outage(OSError("connection reset"), "back again")),
        daemon=True,
    )
    waiter.start()
    deadline = time.monotonic() + 30
    while "does not answer" not in shell._last_problem and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shell._state == "degraded"
    private_redis.start()
    waiter.join(timeout=30)
    assert result == [True]
    assert shell._last_problem == ""
    told = [(e["state"], e["message"]) for e in status_events(redis.Redis.from_url(private_redis.url), "p")]
    assert told == [("degraded", "Redis is not reachable: connection reset"), ("recovered", "back again")]


def test_the_heartbeat_beats_until_stopped(bus_settings, rclient, prefix) -> None:
    shell = Shell(bus_settings)
    shell.start_heartbeat(lambda: {"answer": 42})
    key = Keys(prefix).health("demo", bus_settings.instance)
    deadline = time.monotonic() + 20
    while not rclient.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rclient.exists(key)
    shell.stop_heartbeat()
    assert shell.heartbeat is None
    assert not rclient.exists(key)
