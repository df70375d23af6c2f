"""Live signals leave incomplete candles out, exactly as if they were missing, unless told to keep them."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from quantumflux.backtest.strategies import get_strategy
from quantumflux.bus.keys import Keys
from quantumflux.bus.records import Candle, pack
from quantumflux.signals.runner import frame_of
from tests.signals import service
from tests.signals.candles import random_walk

ASSET = "EURUSD_otc"
PARAMS = {"fast": 3, "slow": 8}


def signals_of(rows: list) -> list[tuple[int, int]]:
    """(time, direction) of every signal the strategy gives on these candles, computed here."""
    frame = frame_of(rows)
    s = get_strategy("sma_cross")
    sig = s.signals(frame, **s.resolve(PARAMS))
    return [(int(frame["time"][i]), int(d)) for i, d in enumerate(sig.direction) if d]


@pytest.mark.parametrize("keep", [False, True])
def test_an_incomplete_bar_gives_no_signal_by_default(
    keep: bool, test_env: dict[str, str], rclient: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    rows = random_walk(200, seed=11)
    full = signals_of(rows)
    # Mark as incomplete three bars on which the strategy signals when it sees every bar.
    marked = {t for t, _ in full[2:5]}
    assert len(marked) == 3
    settings = {"signals": f"sma_cross(fast=3,slow=8)@{ASSET}:1m"}
    if keep:
        settings["include_incomplete"] = "true"
    log = tmp_path / "signals.log"
    proc = service.start(test_env, log, **settings)
    keys = Keys(prefix)
    try:
        last = ""
        for t, o, h, lo, c, n in rows:
            bar = Candle(ASSET, 60, t, o, h, lo, c, n, True, complete=t not in marked)
            last = rclient.xadd(keys.bars(60), {"d": pack(bar)}).decode()
        service.wait_applied(rclient, prefix, keys.bars(60), last, proc)
    finally:
        assert service.stop(proc) == 0, log.read_text()
    got = [(s["time"], s["direction"]) for s in service.read_stream(rclient, keys.signals())]
    if keep:
        assert got == full
    else:
        # Exactly what the strategy says on the candles without the marked ones.
        assert got == signals_of([r for r in rows if r[0] not in marked])
        assert not {t for t, _ in got} & marked
