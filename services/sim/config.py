"""Settings of the simulated broker (``qf sim``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from quantumflux.bus.config import BusSettings
from quantumflux.sim.feed import asset_names


class SimSettings(BusSettings):
    """Where the simulated broker listens and what it quotes."""

    sim_host: str = Field(default="127.0.0.1", description="Address to listen on (QF_SIM_HOST).")
    sim_port: int = Field(default=8765, ge=0, le=65535, description="Port; 0 picks a free one (QF_SIM_PORT).")
    sim_assets: str = Field(
        default="3", description="How many assets, or a comma-separated list of names (QF_SIM_ASSETS)."
    )
    sim_rate: float = Field(
        default=2.0, gt=0, le=1000, description="Ticks per second per asset (QF_SIM_RATE)."
    )
    sim_seed: int = Field(default=1, description="Seed of the prices and timings (QF_SIM_SEED).")
    sim_steady: bool = Field(
        default=False,
        description="One tick every 1/rate s on a fixed grid, no jitter and no extra ticks, so orders "
        "can be compared with candles to the cent (QF_SIM_STEADY).",
    )
    sim_ping_interval: float = Field(
        default=25.0, gt=0, description="Seconds between the server's Engine.IO pings (QF_SIM_PING_INTERVAL)."
    )
    sim_history_gap: float = Field(
        default=0.3,
        ge=0,
        description="History requests closer together than this many seconds, per socket, get no "
        "answer, as a broker limiting fast clients might do (QF_SIM_HISTORY_GAP).",
    )
    sim_start: float | None = Field(
        default=None,
        description="UTC time the market starts at, in seconds; default now. The same seed and start "
        "give the same market, to the tick (QF_SIM_START).",
    )
    sim_real_account: bool = Field(
        default=False,
        description="The page claims a real account (isDemo 0 in auth and balance) instead of a demo "
        "one, to check that a trader set to demo places nothing there (QF_SIM_REAL_ACCOUNT).",
    )
    # Cues for checking what a broker's changes cause downstream (read by quantumflux.sim.drills).
    sim_payout_change: str = Field(
        default="",
        description="ASSET=PAYOUT@SECONDS: set that payout that many seconds after start and resend "
        "the asset list (QF_SIM_PAYOUT_CHANGE).",
    )
    sim_drift_after: float | None = Field(
        default=None,
        ge=0,
        description="Seconds after start to send one unknown event and one updateStream of a new "
        "shape, as a broker changing its protocol would (QF_SIM_DRIFT_AFTER).",
    )

    @field_validator("sim_assets")
    @classmethod
    def _assets_make_sense(cls, v: str) -> str:
        asset_names(v)  # raises ValueError with a plain message
        return v
