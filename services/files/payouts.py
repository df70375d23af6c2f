"""Payout history: the broker's payout changes per asset, read from ``payouts/`` files.

A payout file (written by the persistence service from ``qf:payouts``) has the header
``timestamp,payout,open``: the time of the change (ISO UTC, to the millisecond), the payout as the
broker gives it (92 means a win pays 92 % of the stake) and whether the asset could be traded (1/0).
:func:`payout_history` gathers every file of one asset into one :class:`PayoutHistory`;
:meth:`PayoutHistory.at` says which payout was in force at given times (pure).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from quantumflux.files.cells import LoadError, parse_time_cell
from quantumflux.files.columns import PAYOUT_HEADER
from quantumflux.files.layout import iter_data_files

__all__ = ["PayoutHistory", "payout_history", "read_payouts"]


@dataclass(frozen=True, eq=False)
class PayoutHistory:
    """An asset's payout changes in time order: when (epoch seconds), the payout as a share of the
    stake (0.92) and whether the asset could be traded. Repeated times keep the last change."""

    times: npt.NDArray[np.float64]
    payouts: npt.NDArray[np.float64]
    open: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.times)

    def at(self, when: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """The payout in force at each time (the last change at or before it), and whether one was
        known then (False before the first change; the payout there is NaN)."""
        t = np.asarray(when, dtype=np.float64)
        idx = np.searchsorted(self.times, t, side="right") - 1
        known = idx >= 0
        values = np.full(len(t), np.nan)
        values[known] = self.payouts[idx[known]]
        return values, known

    @classmethod
    def of(cls, rows: list[tuple[float, float, bool]]) -> PayoutHistory:
        """From ``(time, broker payout, open)`` rows in any order (pure)."""
        kept: dict[float, tuple[float, bool]] = {}
        # A stable sort: of two changes at the same time, the one read later wins.
        for t, payout, is_open in sorted(rows, key=lambda r: r[0]):
            kept[t] = (payout / 100.0, is_open)
        times = np.fromiter(kept, dtype=np.float64, count=len(kept))
        return cls(
            times,
            np.array([v[0] for v in kept.values()], dtype=np.float64),
            np.array([v[1] for v in kept.values()], dtype=np.bool_),
        )


def read_payouts(path: str | os.PathLike[str]) -> list[tuple[float, float, bool]]:
    """The ``(time, broker payout, open)`` rows of one payout file; :class:`LoadError` at a bad cell."""
    p = Path(path)
    try:
        with p.open("r", encoding="utf-8", newline="") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LoadError(p, 1, 1, f"cannot read the file: {exc}") from None
    if not lines or [c.strip().lower() for c in lines[0]] != PAYOUT_HEADER:
        raise LoadError(p, 1, 1, f"not a payout file: the header must be {','.join(PAYOUT_HEADER)}")
    out = []
    for n, row in enumerate(lines[1:], start=2):
        if not row:
            continue
        out.append(_row(p, n, row))
    return out


def _row(path: Path, line: int, row: list[str]) -> tuple[float, float, bool]:
    if len(row) != len(PAYOUT_HEADER):
        raise LoadError(path, line, 1, f"{len(row)} values where the header has {len(PAYOUT_HEADER)} columns")
    t = parse_time_cell(row[0])
    if t is None:
        raise LoadError(path, line, 1, f"{row[0]!r} is not a time")
    try:
        payout = float(row[1])
    except ValueError:
        raise LoadError(path, line, 2, f"{row[1]!r} is not a number (payout)") from None
    if not 0 < payout <= 1000:
        raise LoadError(path, line, 2, f"{row[1]!r} is not a payout in percent")
    if row[2].strip() not in ("0", "1"):
        raise LoadError(path, line, 3, f"{row[2]!r} is not 1 or 0 (open)")
    return t, payout, row[2].strip() == "1"


def payout_history(data_dir: str | os.PathLike[str], asset: str) -> PayoutHistory:
    """Every payout change of ``asset`` on disk, in time order (empty when there is none)."""
    rows: list[tuple[float, float, bool]] = []
    files = [d for d in iter_data_files(data_dir) if d.kind == "payouts" and d.asset == asset]
    for df in sorted(files, key=lambda d: (d.session, d.chunk)):
        rows += read_payouts(df.path)
    return PayoutHistory.of(rows)
