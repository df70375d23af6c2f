"""Small helpers every stream reader needs: Redis replies as text, stream ids in order."""

from __future__ import annotations


def text(value: object) -> str:
    """A Redis reply value as text (redis-py hands back bytes unless told otherwise)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def id_tuple(entry_id: str | bytes) -> tuple[int, int]:
    """A stream id ``"ms-seq"`` as a tuple that sorts as Redis orders entries."""
    ms, _, seq = text(entry_id).partition("-")
    return int(ms), int(seq or 0)
