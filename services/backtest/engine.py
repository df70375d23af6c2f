"""The binary-option engine: signals at candle closes become fixed-payout contracts (pure, vectorised).

Rules (docs/strategies.md has them in plain words):

- a signal at the close of candle ``i`` opens a contract at ``close[i]`` that expires at
  ``close[i + expiry]`` (expiry counted in candles);
- a call wins when the expiry close is higher than the entry close, a put when it is lower; an
  equal close refunds the stake (a tie); a win pays ``stake × payout``, a loss loses the stake;
- signals with a confidence below ``min_confidence`` are ignored, and so are signals whose expiry
  candle is beyond the data or, when the timeframe is known, not exactly ``expiry`` timeframes
  later (a gap in the data: the contract could not have been settled on that candle);
- one open contract at a time unless ``overlap``: a signal is taken only once the previous
  contract has expired (a contract expiring at the close of candle j does not block a signal at j);
- the stake is fixed, or ``fraction`` of the balance after every earlier contract settled;
- a win pays ``payout``, or, with a payout ``history``, the broker's payout in force at the entry
  (the last change at or before it; ``payout`` before the first change).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

import numpy as np

from quantumflux.files.payouts import PayoutHistory


class EngineError(ValueError):
    """Engine settings that cannot be used; the message names the setting."""


@dataclass(frozen=True)
class EngineConfig:
    """How contracts are opened and paid."""

    expiry: int = 1
    payout: float = 0.92
    min_confidence: float = 0.0
    overlap: bool = False
    stake: float = 1.0
    fraction: float | None = None
    balance: float = 1000.0
    history: PayoutHistory | None = field(default=None, compare=False, repr=False)
    """The asset's payout changes, when the payout in force at each entry is to be used."""

    def __post_init__(self) -> None:
        if isinstance(self.expiry, bool) or not isinstance(self.expiry, int) or self.expiry < 1:
            raise EngineError("expiry must be a whole number of candles, 1 or more")
        if not 0 < self.payout <= 10:
            raise EngineError("payout must be above 0 (0.92 means a win pays 92% of the stake)")
        if not 0 <= self.min_confidence <= 1:
            raise EngineError("min-confidence must be between 0 and 1")
        if not self.stake > 0:
            raise EngineError("stake must be above 0")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise EngineError("fraction must be above 0 and at most 1 (0.02 = 2% of the balance)")
        if not self.balance > 0:
            raise EngineError("balance must be above 0")

    @property
    def break_even(self) -> float:
        """Win rate at which wins pay exactly for losses: 1 / (1 + payout)."""
        return 1.0 / (1.0 + self.payout)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (the payout history is described apart: see the runner)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "history"}

    @classmethod
    def of(cls, source: object, prefix: str = "") -> Self:
        """The settings read from ``source``'s attributes of the same names (after ``prefix``)."""
        return cls(**{f.name: getattr(source, prefix + f.name) for f in fields(cls) if f.name != "history"})

    def payouts_at(self, entry_times: np.ndarray) -> tuple[np.ndarray, int]:
        """The payout of contracts entered at these times, and how many took the fixed ``payout``
        because no change was known yet (all of them without a history)."""
        n = len(entry_times)
        if self.history is None:
            return np.full(n, float(self.payout)), n
        values, known = self.history.at(entry_times)
        return np.where(known, values, self.payout), int(n - known.sum())


TRADE_COLUMNS = (
    "entry_index",
    "expiry_index",
    "entry_time",
    "expiry_time",
    "direction",
    "confidence",
    "entry_price",
    "expiry_price",
    "outcome",
    "stake",
    "pnl",
    "balance",
)


@dataclass(frozen=True)
class Trades:
    """Every contract, one array per column, in entry order.

    ``outcome`` is +1 win, −1 loss, 0 tie; ``pnl`` is the contract's profit (``stake × payout``,
    ``−stake`` or 0) and ``balance`` the balance after it settled. ``payout`` is what a win of
    each contract paid per unit staked, and ``fixed_payouts`` how many of them used the fixed one.
    """

    entry_index: np.ndarray
    expiry_index: np.ndarray
    entry_time: np.ndarray
    expiry_time: np.ndarray
    direction: np.ndarray
    confidence: np.ndarray
    entry_price: np.ndarray
    expiry_price: np.ndarray
    outcome: np.ndarray
    stake: np.ndarray
    pnl: np.ndarray
    balance: np.ndarray
    skipped_gaps: int = 0
    payout: np.ndarray = field(default_factory=lambda: np.empty(0))
    fixed_payouts: int = 0

    def __len__(self) -> int:
        return len(self.entry_index)

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The trades as plain dicts (for JSON and tables), at most ``limit`` of them."""
        n = len(self) if limit is None else min(limit, len(self))
        cols = {c: getattr(self, c)[:n].tolist() for c in TRADE_COLUMNS}
        return [{c: cols[c][k] for c in TRADE_COLUMNS} for k in range(n)]


def select_entries(
    direction: np.ndarray,
    confidence: np.ndarray,
    config: EngineConfig,
    times: np.ndarray | None = None,
    timeframe: int | None = None,
    start: int = 0,
    stop: int | None = None,
) -> tuple[np.ndarray, int]:
    """Indices of the candles where a contract opens, and how many signals a data gap voided.

    Only signals at ``start <= i < stop`` are considered (walk-forward test windows).
    """
    last = signals_end(len(direction), config, stop)
    if last <= start:
        return np.empty(0, np.int64), 0
    ok = direction[start:last] != 0
    if config.min_confidence > 0:
        ok &= confidence[start:last] >= config.min_confidence
    cand = np.flatnonzero(ok) + start
    taken, skipped = choose(cand, config, voided(cand, config, times, timeframe))
    return cand[taken].astype(np.int64), skipped


def signals_end(n: int, config: EngineConfig, stop: int | None = None) -> int:
    """The first of ``n`` candles whose signal cannot open a contract: it is at ``stop`` or its
    expiry candle is beyond the data."""
    stop = n if stop is None else min(stop, n)
    return min(stop, n - config.expiry)


def voided(
    cand: np.ndarray, config: EngineConfig, times: np.ndarray | None, timeframe: int | None
) -> np.ndarray:
    """Positions in ``cand`` (candle indices) of the signals a data gap voids: their expiry
    candle is not exactly ``expiry`` timeframes later. None of them when the timeframe is unknown."""
    if not timeframe or times is None or len(cand) == 0:
        return np.empty(0, np.int64)
    span = times[cand + config.expiry] - times[cand]
    return np.flatnonzero(span != config.expiry * timeframe)


def choose(cand: np.ndarray, config: EngineConfig, void: np.ndarray) -> tuple[np.ndarray | slice, int]:
    """Which candidate signals open a contract, and how many a data gap voided.

    ``cand`` are the candle indices of the signals (increasing) and ``void`` the positions in it
    of those a gap voids (:func:`voided`). The answer is positions in ``cand``: ``slice(None)``
    when every signal opens one.
    """
    skipped = len(void)
    taken: np.ndarray | slice = slice(None)
    if skipped:
        taken = np.delete(np.arange(len(cand)), void)
        cand = cand[taken]
    if config.overlap or config.expiry == 1 or len(cand) == 0:
        return taken, skipped
    # One contract at a time: from each contract taken, jump to the first signal at or after its
    # expiry. The jumps are found for every signal at once; only following them is a loop.
    after = np.searchsorted(cand, cand + config.expiry, side="left").tolist()
    kept = []
    k = 0
    m = len(cand)
    while k < m:
        kept.append(k)
        k = after[k]
    chosen = np.asarray(kept, dtype=np.int64)
    return (chosen if isinstance(taken, slice) else taken[chosen]), skipped


def pay(
    outcome: np.ndarray, payout: np.ndarray | float, config: EngineConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stake, profit and balance after each settled contract, in entry order.

    ``outcome`` is +1 win, −1 loss, 0 tie (whole numbers) and ``payout`` what a win of each
    contract pays per unit staked, or one number when every contract has the same payout. The
    grid settles its points through this too, so a sweep row and a plain run agree.
    """
    ret: np.ndarray
    if np.ndim(payout) == 0:
        # Each return is one of three numbers: picking them by outcome is faster than comparing.
        ret = np.array([-1.0, 0.0, float(payout)]).take(outcome + 1)
    else:
        ret = np.where(outcome > 0, payout, np.where(outcome < 0, -1.0, 0.0))
    if config.fraction is None:
        stake: np.ndarray = np.full(len(outcome), float(config.stake))
        pnl: np.ndarray = stake * ret
        return stake, pnl, config.balance + np.cumsum(pnl)
    # Compounding: each stake is the fraction of the balance left by every earlier contract.
    balance: np.ndarray = config.balance * np.cumprod(1.0 + config.fraction * ret)
    stake = config.fraction * np.concatenate(([config.balance], balance[:-1]))
    return stake, stake * ret, balance


def run(
    times: np.ndarray,
    close: np.ndarray,
    direction: np.ndarray,
    confidence: np.ndarray,
    config: EngineConfig,
    timeframe: int | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Trades:
    """The contracts a signal series opens on a close series, settled by the engine rules."""
    close = np.asarray(close, dtype=np.float64)
    times = np.asarray(times, dtype=np.int64)
    entry, skipped = select_entries(direction, confidence, config, times, timeframe, start, stop)
    expiry = entry + config.expiry
    d = direction[entry].astype(np.int8)
    p0 = close[entry]
    p1 = close[expiry]
    move = np.sign(p1 - p0).astype(np.int8)
    outcome = (move * d).astype(np.int8)
    payout, fixed = config.payouts_at(times[entry])
    stake, pnl, balance = pay(outcome, payout, config)
    return Trades(
        entry_index=entry,
        expiry_index=expiry,
        entry_time=times[entry],
        expiry_time=times[expiry],
        direction=d,
        confidence=np.asarray(confidence, dtype=np.float64)[entry],
        entry_price=p0,
        expiry_price=p1,
        outcome=outcome,
        stake=stake,
        pnl=pnl,
        balance=balance,
        skipped_gaps=skipped,
        payout=payout,
        fixed_payouts=fixed,
    )
