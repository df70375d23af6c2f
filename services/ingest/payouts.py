"""The broker's payouts as change records: one :class:`Payout` when an asset's terms change (pure).

The broker resends its whole asset list (``updateAssets``) often and mostly unchanged; a reader of
``qf:payouts`` wants to know when a payout moves or an asset opens or closes, not every copy.
"""

from __future__ import annotations

from typing import Any

from quantumflux.bus.records import Event, Payout
from quantumflux.ingest.decode.values import num

ASSETS_EVENT = "assets"


class PayoutChanges:
    """Remembers each asset's last payout and open state; one instance per capture."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, bool]] = {}

    def changes(self, event: Event) -> list[Payout]:
        """The decoder's ``assets`` event → a record per asset whose payout or open state changed.

        The first list gives one record per asset. An asset missing from a list is left as it was:
        the list says nothing about it.
        """
        if event.type != ASSETS_EVENT:
            return []
        rows = event.data.get("assets")
        if not isinstance(rows, list):
            return []
        terms: dict[str, tuple[float, bool]] = {}
        for row in rows:
            read = _terms(row)
            if read is not None:
                terms[read[0]] = read[1:]
        out = []
        for asset, now in terms.items():
            if self._last.get(asset) != now:
                self._last[asset] = now
                out.append(Payout(asset=asset, ts=event.ts, payout=now[0], open=now[1]))
        return out


def _terms(row: Any) -> tuple[str, float, bool] | None:
    """An asset row's name, payout (0 when the broker gave none) and whether it can be traded."""
    if not isinstance(row, dict):
        return None
    asset = row.get("asset")
    if not isinstance(asset, str) or not asset:
        return None
    payout = num(row.get("payout"))
    if payout is None or payout < 0:
        payout = 0.0
    # The broker shows a payout (often 92) for assets it marks N/A: only `active` says they trade.
    is_open = row.get("active") is True and payout > 0
    return asset, payout, is_open
