"""Stream upkeep: trimming that never drops what a consumer group still needs, and group lag.

Trimming is by ``MINID`` below the oldest entry any group still needs (its oldest pending entry,
or the last one it was delivered). A length cap applies only as a last resort, and the caller
reports it loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.exceptions import ResponseError

from quantumflux.bus.ids import id_tuple, text


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """One consumer group of a stream: pending count, last delivered id, lag (entries not yet read)."""

    name: str
    consumers: int
    pending: int
    last_delivered: str
    lag: int | None


def groups(client: redis.Redis, key: str) -> list[GroupInfo]:
    """The consumer groups of a stream (empty when the stream does not exist)."""
    try:
        rows = client.xinfo_groups(key)
    except ResponseError:
        return []
    out = []
    for row in rows:
        r = {text(k): v for k, v in row.items()}
        lag = r.get("lag")
        last = text(r.get("last-delivered-id", "0-0"))
        if lag is None:  # Redis < 7: count what follows the last delivered id (capped)
            lag = (
                len(client.xrange(key, min=f"({last}", max="+", count=100_000) or [])
                if last != "0-0"
                else client.xlen(key)
            )
        out.append(
            GroupInfo(
                name=text(r.get("name")),
                consumers=int(r.get("consumers", 0)),
                pending=int(r.get("pending", 0)),
                last_delivered=last,
                lag=int(lag) if lag is not None else None,
            )
        )
    return out


def oldest_needed(client: redis.Redis, key: str) -> str | None:
    """The smallest id any group of ``key`` still needs, or None when the stream has no group."""
    need: tuple[int, int] | None = None
    for g in groups(client, key):
        if g.pending:
            summary = client.xpending(key, g.name)
            low = summary.get("min") if isinstance(summary, dict) else None
            cand = id_tuple(text(low)) if low else id_tuple(g.last_delivered)
        else:
            ms, seq = id_tuple(g.last_delivered)
            cand = (ms, seq + 1)
        if need is None or cand < need:
            need = cand
    return None if need is None else f"{need[0]}-{need[1]}"


@dataclass(frozen=True, slots=True)
class TrimResult:
    """What a trim did: entries removed by MINID, and by the last-resort cap."""

    key: str
    removed: int
    capped: int


def trim(client: redis.Redis, key: str, hard_cap: int, keep_min: int = 0) -> TrimResult:
    """Trim ``key`` below what its groups still need; cap it at ``hard_cap`` entries as a last resort.

    ``keep_min`` keeps at least that many newest entries even when all groups are done with them
    (readers without a group, such as the gateway, may still want recent ones).
    """
    removed = 0
    need = oldest_needed(client, key)
    if need is not None:
        threshold = need
        if keep_min:
            recent = client.xrevrange(key, count=keep_min) or []
            if len(recent) == keep_min:
                oldest_kept = text(recent[-1][0])
                if id_tuple(oldest_kept) < id_tuple(threshold):
                    threshold = oldest_kept
            else:
                threshold = "0-0"
        if threshold != "0-0":
            removed = int(client.execute_command("XTRIM", key, "MINID", threshold))  # type: ignore[no-untyped-call]
    capped = 0
    if client.xlen(key) > hard_cap:
        capped = int(client.xtrim(key, maxlen=hard_cap, approximate=False))
    return TrimResult(key, removed, capped)
