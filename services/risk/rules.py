"""The risk rules: whether an intended order may be placed, and with what stake (pure).

One implementation for real, demo and paper trading: the caller describes the account as it
stands (:class:`AccountState`) and the order it intends (:class:`Intent`); :func:`check` answers
:class:`Place` with the stake, or :class:`Refusal` naming the rule. The trader asks for the
broker's account, paper trading for each paper book (with its own balance and results). Two kinds
of refusal:

- a rule that *stops* trading (``daily_loss``, ``losses_in_a_row``): nothing more is placed until
  someone starts trading again, because carrying on is what the limit is there to prevent;
- a rule that only *skips* this order (``asset``, ``confidence``, ``payout``, ``max_open``,
  ``per_hour``, ``stake``): the next signal may well pass.

Stopping rules are looked at first, so a stopped account reports why it stopped rather than the
skip it would also have met. Every limit is reached *at* its value: the third loss in a row with
``max_losses=3`` stops, the first order with ``max_open`` orders open is skipped. A limit set to
None is no limit (paper trading's default, so it trades as the backtest does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Sums of cents in floating point are off in the last bits; a limit is met within this.
EPSILON = 1e-9

STOP_RULES = ("daily_loss", "losses_in_a_row")
SKIP_RULES = ("asset", "confidence", "payout", "max_open", "per_hour", "stake")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits; ``assets`` empty means every asset, ``payout`` values are shares (0.92), None
    is no limit."""

    stake: float = 1.0
    fraction: float | None = None
    min_stake: float = 0.0
    max_open: int | None = 1
    daily_loss: float | None = 10.0
    max_per_hour: int | None = 30
    max_losses: int | None = 5
    assets: frozenset[str] = field(default_factory=frozenset)
    min_payout: float = 0.0
    min_confidence: float = 0.0

    def to_map(self) -> dict[str, object]:
        return {
            "stake": self.stake,
            "fraction": self.fraction,
            "min_stake": self.min_stake,
            "max_open": self.max_open,
            "daily_loss": self.daily_loss,
            "max_per_hour": self.max_per_hour,
            "max_losses": self.max_losses,
            "assets": sorted(self.assets),
            "min_payout": self.min_payout,
            "min_confidence": self.min_confidence,
        }


@dataclass(frozen=True, slots=True)
class AccountState:
    """The account as it stands when an order is intended.

    ``today_pnl`` is the profit of the orders closed this UTC day, ``last_hour`` how many orders
    were sent in the hour before now, ``losses_in_a_row`` the current streak of losses (a refund
    neither breaks nor lengthens it), ``payouts`` the live payout of each asset known (0.92).
    """

    balance: float
    open_orders: int
    today_pnl: float
    last_hour: int
    losses_in_a_row: int
    payouts: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Intent:
    """An order a strategy calls for: which asset, and how sure the strategy is."""

    asset: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Place:
    """Place the order with this stake."""

    stake: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """The order is not placed: ``rule`` names the limit, ``message`` says it to the trader."""

    rule: str
    message: str

    @property
    def stops(self) -> bool:
        """True when the rule stops trading, False when it only skips this order."""
        return self.rule in STOP_RULES


Verdict = Place | Refusal


def stake_for(limits: RiskLimits, balance: float) -> float:
    """The stake: fixed, or ``fraction`` of the balance (the backtest engine's two ways)."""
    return limits.fraction * balance if limits.fraction is not None else float(limits.stake)


def check(limits: RiskLimits, account: AccountState, intent: Intent) -> Verdict:
    """Place (with the stake) or refuse (naming the first rule met, stopping rules first)."""
    refusal = stop_rule(limits, account) or skip_rule(limits, account, intent)
    if refusal is not None:
        return refusal
    stake = stake_for(limits, account.balance)
    if stake < limits.min_stake - EPSILON:
        return Refusal("stake", f"the stake {stake:.2f} is below the smallest amount {limits.min_stake:g}")
    if stake > account.balance + EPSILON:
        return Refusal("stake", f"the stake {stake:.2f} is more than the balance {account.balance:.2f}")
    return Place(stake)


def stop_rule(limits: RiskLimits, account: AccountState) -> Refusal | None:
    """The rule that stops trading now, if one is met."""
    if limits.daily_loss is not None and -account.today_pnl >= limits.daily_loss - EPSILON:
        return Refusal(
            "daily_loss",
            f"today's loss {-account.today_pnl:.2f} reached the daily limit {limits.daily_loss:g}",
        )
    if limits.max_losses is not None and account.losses_in_a_row >= limits.max_losses:
        return Refusal(
            "losses_in_a_row", f"{account.losses_in_a_row} losses in a row (limit {limits.max_losses})"
        )
    return None


def skip_rule(limits: RiskLimits, account: AccountState, intent: Intent) -> Refusal | None:
    """The rule that skips this order, if one is met."""
    if limits.assets and intent.asset not in limits.assets:
        return Refusal("asset", f"{intent.asset} is not among the assets allowed")
    # The paper-trading comparison, exactly: a confidence equal to the limit passes, NaN does not.
    if limits.min_confidence > 0 and not intent.confidence >= limits.min_confidence:
        return Refusal(
            "confidence",
            f"confidence {intent.confidence:.2f} is below the lowest accepted {limits.min_confidence:g}",
        )
    payout = account.payouts.get(intent.asset)
    if limits.min_payout > 0 and payout is None:
        return Refusal("payout", f"no live payout known for {intent.asset}")
    if payout is not None and payout < limits.min_payout - EPSILON:
        return Refusal(
            "payout", f"the payout of {intent.asset} is {payout:.0%}, below {limits.min_payout:.0%}"
        )
    if limits.max_open is not None and account.open_orders >= limits.max_open:
        return Refusal("max_open", f"{account.open_orders} orders open (limit {limits.max_open})")
    if limits.max_per_hour is not None and account.last_hour >= limits.max_per_hour:
        return Refusal(
            "per_hour", f"{account.last_hour} orders in the last hour (limit {limits.max_per_hour})"
        )
    return None
