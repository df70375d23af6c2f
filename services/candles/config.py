"""Settings of the candle service (``QF_*`` variables; ``qf candles`` flags override them)."""

from __future__ import annotations

from pydantic import Field, field_validator

from quantumflux.bus.config import BusSettings
from quantumflux.bus.timeframes import ALLOWED, TimeframeError, label, parse_timeframes

DEFAULT_TIMEFRAMES = "1m,5m,15m,1h,4h"


class CandlesSettings(BusSettings):
    """What the candle workers build, and how they close candles and share partitions."""

    timeframes: str = Field(
        default=DEFAULT_TIMEFRAMES,
        description="Timeframes to build, e.g. '1m,5m,15m,1h,4h' (also 1s 5s 10s 15s 30s and 1d).",
    )
    close_grace: float = Field(
        default=2.0, ge=0, le=3600, description="Seconds after a candle's end before it closes on time alone."
    )
    candles_replay: bool = Field(
        default=False, description="Replay mode: close candles on tick times only, never on the wall clock."
    )
    broker_day_offset: int = Field(
        default=7200,
        ge=-43200,
        le=43200,
        description="Seconds the broker's day starts before UTC midnight; 4h and 1d candles align to it (0 = UTC).",
    )
    candles_lease: float = Field(
        default=10.0, ge=1.0, le=600, description="Seconds a worker owns a partition without renewing."
    )
    series_length: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="Closed candles kept per asset and timeframe for charts.",
    )
    candles_batch: int = Field(
        default=1000, ge=1, le=100_000, description="Entries read per partition at once."
    )
    candles_stream_cap: int = Field(
        default=10_000,
        ge=100,
        description="Entries kept in each qf:candles:{tf} stream (readers have no group).",
    )
    bars_cap: int = Field(
        default=1_000_000, ge=1000, description="Last-resort cap of each qf:bars:{tf} stream."
    )

    @field_validator("timeframes")
    @classmethod
    def _timeframes_known(cls, v: str) -> str:
        try:
            tfs = parse_timeframes(v.replace(" ", ","))
        except TimeframeError as exc:
            raise ValueError(str(exc)) from None
        if not tfs:
            raise ValueError("give at least one timeframe, e.g. 1m")
        odd = [t for t in tfs if t not in ALLOWED]
        if odd:
            allowed = " ".join(label(t) for t in ALLOWED)
            raise ValueError(f"timeframe {label(odd[0])} is not supported; use one of: {allowed}")
        return ",".join(label(t) for t in tfs)

    @property
    def timeframe_seconds(self) -> tuple[int, ...]:
        """The timeframes in seconds, sorted."""
        return parse_timeframes(self.timeframes)
