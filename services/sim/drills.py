"""Changes the simulated broker makes on cue, so that what they cause downstream can be checked.

A real broker moves an asset's payout now and then, and changes its protocol without notice.
The cues are settings of the simulator (see quantumflux.sim.config):
``QF_SIM_PAYOUT_CHANGE="EURUSD_otc=70@3"`` sets that asset's payout to 70 % three seconds after
the first page logged in and resends the asset list; ``QF_SIM_DRIFT_AFTER=3`` sends, three
seconds after it, one event the broker never sent and one ``updateStream`` of a shape it never had.
Counting from the first page, not from start, the page has seen the terms before they change.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantumflux.sim.server import SimServer

log = logging.getLogger("qf.sim")

PAYOUT_ENV = "QF_SIM_PAYOUT_CHANGE"
DRIFT_ENV = "QF_SIM_DRIFT_AFTER"
UNKNOWN_EVENT = "updateNewsTicker"


@dataclass(frozen=True, slots=True)
class PayoutChange:
    asset: str
    payout: int
    after: float


@dataclass(frozen=True, slots=True)
class Drills:
    payout: PayoutChange | None = None
    drift_after: float | None = None


def parse_payout_change(spec: str) -> PayoutChange:
    """``"ASSET=PAYOUT@SECONDS"`` → the change; ValueError with a plain message otherwise."""
    try:
        asset, rest = spec.split("=", 1)
        payout, after = rest.split("@", 1)
        change = PayoutChange(asset.strip(), int(payout), float(after))
    except ValueError:
        raise ValueError(f"{PAYOUT_ENV} must look like EURUSD_otc=70@3, not {spec!r}") from None
    if not change.asset or not 0 <= change.payout <= 100 or change.after < 0:
        raise ValueError(f"{PAYOUT_ENV}: an asset, a payout of 0 to 100 and seconds >= 0, not {spec!r}")
    return change


def drills_from_env(env: dict[str, str] | None = None) -> Drills:
    """The drills asked for in the environment (none by default)."""
    env = dict(os.environ) if env is None else env
    payout = env.get(PAYOUT_ENV, "").strip()
    drift = env.get(DRIFT_ENV, "").strip()
    return Drills(
        payout=parse_payout_change(payout) if payout else None,
        drift_after=float(drift) if drift else None,
    )


async def run_drills(server: SimServer, drills: Drills) -> None:
    """Make each change on its cue, to every page connected then."""
    steps: list[tuple[float, str]] = []
    if drills.payout is not None:
        steps.append((drills.payout.after, "payout"))
    if drills.drift_after is not None:
        steps.append((drills.drift_after, "drift"))
    if not steps:
        return
    while not server.clients:
        await asyncio.sleep(0.1)
    waited = 0.0
    for after, what in sorted(steps):
        await asyncio.sleep(max(0.0, after - waited))
        waited = after
        if what == "payout" and drills.payout is not None:
            await _change_payout(server, drills.payout)
        elif what == "drift":
            await _drift(server)


async def _change_payout(server: SimServer, change: PayoutChange) -> None:
    if not server.feed.set_payout(change.asset, change.payout):
        log.warning("%s: no asset %s here; nothing changed", PAYOUT_ENV, change.asset)
        return
    log.info("the payout of %s is now %d %%", change.asset, change.payout)
    await _to_all(server, "updateAssets", server.feed.assets_body())


async def _drift(server: SimServer) -> None:
    log.info("sending an unknown event and a changed updateStream")
    await _to_all(server, UNKNOWN_EVENT, {"headline": "markets", "items": [1, 2]})
    asset = server.feed.assets[0]
    # A tick row with a fourth, new element: the shape the decoder knows has three.
    await _to_all(server, "updateStream", [[asset, 0, 1.0, "new"]])


async def _to_all(server: SimServer, name: str, body: Any) -> None:
    for client in list(server.clients):
        await server._send_events(client, [(name, body)])
