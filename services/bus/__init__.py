"""The contract every QuantumFlux service and any outside tool shares (DESIGN §2).

Stream and key names (:mod:`keys`), record types with their msgpack codec (:mod:`records`; the
trading records in :mod:`trading`), settings (:mod:`config`), Redis connections
(:mod:`connection`), consumer groups (:mod:`groups`), heartbeats and status events
(:mod:`health`), stream trimming and lag (:mod:`streams`).
"""

from quantumflux.bus.config import BusSettings, UnknownSettingError, check_environment
from quantumflux.bus.keys import KeyName, Keys, partition_of
from quantumflux.bus.records import (
    SCHEMA_VERSION,
    Candle,
    CaptureMark,
    Event,
    HistoryBatch,
    Order,
    PaperContract,
    Payout,
    Record,
    RecordError,
    Signal,
    Tick,
    decode,
    decode_fields,
    pack,
)
from quantumflux.bus.timeframes import file_label, label, parse_timeframe, parse_timeframes

__all__ = [
    "SCHEMA_VERSION",
    "BusSettings",
    "Candle",
    "CaptureMark",
    "Event",
    "HistoryBatch",
    "KeyName",
    "Keys",
    "Order",
    "PaperContract",
    "Payout",
    "Record",
    "RecordError",
    "Signal",
    "Tick",
    "UnknownSettingError",
    "check_environment",
    "decode",
    "decode_fields",
    "file_label",
    "label",
    "pack",
    "parse_timeframe",
    "parse_timeframes",
    "partition_of",
]
