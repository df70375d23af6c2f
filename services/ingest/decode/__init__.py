"""The broker decoder, by subject: framing, market data, trading, platform; one table of events.

:class:`Decoder` is the front door: ``Decoder().feed(frame)`` gives the records a frame carries,
and ``Decoder.drift_report()`` the changes in the broker's protocol it noticed (:mod:`.drift`).
"""

from quantumflux.ingest.decode.decoder import DEFAULT_WS_URL_PATTERN, OWN_SOCKET, Decoder
from quantumflux.ingest.decode.drift import SUGGESTION, protocol_report
from quantumflux.ingest.decode.framing import TICK_HEADER, parse_socketio
from quantumflux.ingest.decode.state import Malformed, Output

__all__ = [
    "DEFAULT_WS_URL_PATTERN",
    "OWN_SOCKET",
    "SUGGESTION",
    "TICK_HEADER",
    "Decoder",
    "Malformed",
    "Output",
    "parse_socketio",
    "protocol_report",
]
