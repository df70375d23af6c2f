"""`qf status`: services (from heartbeats), streams, consumer lag and Chrome, in one look."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import msgpack
import redis

from quantumflux.bus.cli import settings_or_exit
from quantumflux.bus.connection import ping
from quantumflux.bus.health import EVENTS_MAXLEN, read_heartbeats
from quantumflux.bus.keys import Keys
from quantumflux.bus.streams import groups
from quantumflux.qf import embedded_redis
from quantumflux.qf.config import UpSettings


def find_redis(settings: UpSettings) -> str | None:
    """The Redis the stack uses: QF_REDIS_URL, else the local default, else a running embedded one."""
    if "QF_REDIS_URL" in os.environ:
        return settings.redis_url if ping(settings.redis_url) else None
    for url in (settings.local_redis_url, embedded_redis.remembered_url(settings.data_dir)):
        if url and ping(url):
            return url
    return None


def last_event(
    client: redis.Redis, keys: Keys, event_type: str, scan: int = 2000, **match: Any
) -> dict[str, Any] | None:
    """The newest event of one type (with the fields ``match`` gives) among the last ``scan`` events."""
    for _eid, fields in client.xrevrange(keys.events(), count=scan):
        try:
            d = msgpack.unpackb(fields[b"d"], raw=False)
        except Exception:
            continue
        if (
            isinstance(d, dict)
            and d.get("type") == event_type
            and all(d.get(k) == v for k, v in match.items())
        ):
            return d
    return None


def protocol_alarm(client: redis.Redis, keys: Keys) -> dict[str, Any] | None:
    """The latest report of a change in the broker's protocol: ``ts``, ``summary``, ``suggestion``."""
    # Rare and important: looked for in the whole events stream, not only its recent part.
    report = last_event(client, keys, "report", scan=EVENTS_MAXLEN, report="protocol")
    if report is None:
        return None
    return {k: report.get(k) for k in ("ts", "summary", "suggestion", "findings")}


def collect(client: redis.Redis, keys: Keys) -> dict[str, Any]:
    """Everything `qf status` shows, as plain data."""
    now = time.time()
    services = []
    for hb in read_heartbeats(client, keys):
        info = {k: v for k, v in hb.items() if k not in ("v", "service", "instance", "pid", "started", "ts")}
        services.append(
            {
                "service": hb.get("service"),
                "instance": hb.get("instance"),
                "pid": hb.get("pid"),
                "last_beat_s": round(now - float(hb.get("ts", now)), 1),
                "up_s": round(now - float(hb.get("started", now))),
                "info": info,
            }
        )
    streams = []
    for raw in sorted(client.scan_iter(match=f"{keys.prefix}:*", count=1000, _type="stream")):
        key = raw.decode()
        streams.append(
            {
                "stream": key,
                "length": client.xlen(key),
                "groups": [
                    {"group": g.name, "consumers": g.consumers, "pending": g.pending, "lag": g.lag}
                    for g in groups(client, key)
                ],
            }
        )
    chrome = last_event(client, keys, "chrome_status")
    return {
        "services": services,
        "streams": streams,
        "chrome": chrome,
        "protocol": protocol_alarm(client, keys),
    }


def _render(data: dict[str, Any], url: str) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped into a file or another tool there is no terminal width to fit: keep every column whole.
    con = Console() if sys.stdout.isatty() else Console(width=160)
    con.print(f"Redis: [green]{url}[/green]")
    chrome = data["chrome"]
    if chrome:
        age = time.time() - float(chrome.get("ts", 0))
        con.print(f"Chrome: {chrome.get('state', '?')} ({chrome.get('reason') or ''}) {age:.0f} s ago")
    else:
        con.print("Chrome: no news from the capture service yet")
    protocol = data.get("protocol")
    if protocol:
        age = time.time() - float(protocol.get("ts") or 0)
        con.print(f"[yellow]Protocol: {protocol.get('summary')} ({age:.0f} s ago)[/yellow]")
        con.print(f"  {protocol.get('suggestion')}")
    t = Table(title="Services")
    for col in ("service", "instance", "last beat", "up", "counters"):
        t.add_column(col)
    for s in data["services"]:
        counters = ", ".join(
            f"{k}={v}" for k, v in sorted(s["info"].items()) if not isinstance(v, dict | list)
        )
        t.add_row(s["service"], s["instance"], f"{s['last_beat_s']} s ago", f"{s['up_s']} s", counters)
    if not data["services"]:
        t.add_row("(none running)", "", "", "", "")
    con.print(t)
    st = Table(title="Streams")
    for col in ("stream", "entries", "reader", "pending", "behind"):
        st.add_column(col)
    for s in data["streams"]:
        if not s["groups"]:
            st.add_row(s["stream"], str(s["length"]), "-", "", "")
        for i, g in enumerate(s["groups"]):
            st.add_row(
                s["stream"] if i == 0 else "",
                str(s["length"]) if i == 0 else "",
                g["group"],
                str(g["pending"]),
                str(g["lag"]),
            )
    con.print(st)


def main(as_json: bool = False) -> int:
    """Print the status; exit code 1 when no Redis answers."""
    settings = settings_or_exit(UpSettings, "qf")
    url = find_redis(settings)
    if url is None:
        msg = "No Redis answers, so nothing is running (start it with: qf up)."
        print(json.dumps({"error": msg}) if as_json else msg)
        return 1
    client = redis.Redis.from_url(url)
    try:
        data = collect(client, Keys(settings.prefix))
    finally:
        client.close()
    if as_json:
        print(json.dumps({"redis": url, **data}, default=str))
    else:
        _render(data, url)
    return 0
