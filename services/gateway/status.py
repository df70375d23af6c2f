"""The ``connection_status`` a browser shows: gateway, Redis, Chrome, and each service.

Pure: built from the heartbeats read, whether Redis answered, and the last ``chrome_status``.
"""

from __future__ import annotations

from typing import Any

CHROME_STATES = ("connected", "disconnected", "reconnected")


def chrome_state(event: dict[str, Any] | None) -> dict[str, Any]:
    """Chrome's state from the last ``chrome_status`` event (``unknown`` before any)."""
    if not event:
        return {"state": "unknown", "reason": ""}
    state = event.get("state")
    return {
        "state": state if state in CHROME_STATES else "unknown",
        "reason": str(event.get("reason") or ""),
        "since": event.get("ts"),
    }


def services_from_heartbeats(heartbeats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{service: {alive, instances, last_seen}}`` from live heartbeat maps."""
    out: dict[str, dict[str, Any]] = {}
    for hb in heartbeats:
        name = hb.get("service")
        if not isinstance(name, str) or not name:
            continue
        entry = out.setdefault(name, {"alive": True, "instances": 0, "last_seen": 0.0})
        entry["instances"] += 1
        ts = hb.get("ts")
        if isinstance(ts, int | float) and ts > entry["last_seen"]:
            entry["last_seen"] = float(ts)
    return dict(sorted(out.items()))


def build_status(
    redis_ok: bool,
    heartbeats: list[dict[str, Any]],
    chrome: dict[str, Any] | None,
    known_services: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``connection_status`` payload.

    A service seen before (in ``known_services``) but without a heartbeat now is listed as not
    alive, so a browser sees it stop instead of vanish.
    """
    services = services_from_heartbeats(heartbeats) if redis_ok else {}
    for name, old in (known_services or {}).items():
        if name not in services:
            services[name] = {"alive": False, "instances": 0, "last_seen": old.get("last_seen", 0.0)}
    return {
        "gateway": "running",
        "redis": "connected" if redis_ok else "disconnected",
        "chrome": chrome_state(chrome),
        "services": dict(sorted(services.items())),
    }


def shape(status: dict[str, Any]) -> tuple[Any, ...]:
    """What must change for browsers to be told again (heartbeat times alone do not count)."""
    services = tuple(
        (name, s.get("alive"), s.get("instances")) for name, s in sorted(status.get("services", {}).items())
    )
    chrome = status.get("chrome", {})
    return (status.get("redis"), chrome.get("state"), chrome.get("reason"), services)


def protocol_alarm(data: dict[str, Any], ts: float) -> dict[str, Any] | None:
    """The ``protocol_report`` a browser shows, from a ``report`` event (None: not about the protocol)."""
    if data.get("report") != "protocol":
        return None
    findings = data.get("findings")
    return {
        "summary": str(data.get("summary") or ""),
        "suggestion": str(data.get("suggestion") or ""),
        "findings": findings if isinstance(findings, list) else [],
        "ts": ts,
    }
