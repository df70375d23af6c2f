"""The broker decoder's front door; the decoder itself lives in :mod:`quantumflux.ingest.decode`."""

from quantumflux.ingest.decode import (
    DEFAULT_WS_URL_PATTERN,
    OWN_SOCKET,
    TICK_HEADER,
    Decoder,
    Malformed,
    Output,
    parse_socketio,
)

__all__ = [
    "DEFAULT_WS_URL_PATTERN",
    "OWN_SOCKET",
    "TICK_HEADER",
    "Decoder",
    "Malformed",
    "Output",
    "parse_socketio",
]
