"""The risk rules: each stops or skips at its limit exactly, and not one step before."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from quantumflux.risk.rules import AccountState, Intent, Place, Refusal, RiskLimits, check, stake_for

LIMITS = RiskLimits(
    stake=2.0,
    min_stake=1.0,
    max_open=3,
    daily_loss=10.0,
    max_per_hour=5,
    max_losses=3,
    assets=frozenset({"EURUSD_otc", "GBPUSD_otc"}),
    min_payout=0.8,
    min_confidence=0.6,
)
CLEAN = AccountState(
    balance=100.0,
    open_orders=0,
    today_pnl=0.0,
    last_hour=0,
    losses_in_a_row=0,
    payouts={"EURUSD_otc": 0.92, "GBPUSD_otc": 0.8, "AUDCAD_otc": 0.95},
)
SURE = Intent("EURUSD_otc", 0.9)


def refused(account: AccountState = CLEAN, intent: Intent = SURE, limits: RiskLimits = LIMITS) -> Refusal:
    verdict = check(limits, account, intent)
    assert isinstance(verdict, Refusal), verdict
    return verdict


def test_a_clean_account_places_the_fixed_stake() -> None:
    assert check(LIMITS, CLEAN, SURE) == Place(2.0)


def test_the_stake_is_a_share_of_the_balance_when_asked() -> None:
    limits = replace(LIMITS, fraction=0.05)
    assert stake_for(limits, 300.0) == pytest.approx(15.0)
    verdict = check(limits, replace(CLEAN, balance=300.0), SURE)
    assert isinstance(verdict, Place) and verdict.stake == pytest.approx(15.0)


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"today_pnl": -10.0}, "daily_loss"),
        ({"losses_in_a_row": 3}, "losses_in_a_row"),
    ],
)
def test_stopping_rules_stop_at_their_limit(changes: dict[str, Any], rule: str) -> None:
    verdict = refused(replace(CLEAN, **changes))
    assert verdict.rule == rule
    assert verdict.stops


@pytest.mark.parametrize(
    "changes",
    [{"today_pnl": -9.99}, {"losses_in_a_row": 2}, {"open_orders": 2}, {"last_hour": 4}],
)
def test_one_step_before_a_limit_the_order_is_placed(changes: dict[str, Any]) -> None:
    assert check(LIMITS, replace(CLEAN, **changes), SURE) == Place(2.0)


def test_a_daily_loss_summed_from_cents_still_meets_the_limit() -> None:
    # 0.1 ten times is 0.9999999999999999 in floating point: the limit 1.0 is still reached.
    pnl = -sum([0.1] * 10)
    assert pnl != -1.0
    assert refused(replace(CLEAN, today_pnl=pnl), limits=replace(LIMITS, daily_loss=1.0)).rule == "daily_loss"


def test_a_win_today_makes_room_under_the_daily_limit() -> None:
    assert check(LIMITS, replace(CLEAN, today_pnl=5.0), SURE) == Place(2.0)


@pytest.mark.parametrize(
    ("account", "intent", "rule"),
    [
        (CLEAN, Intent("AUDCAD_otc", 0.9), "asset"),
        (CLEAN, Intent("EURUSD_otc", 0.59), "confidence"),
        (CLEAN, Intent("EURUSD_otc", math.nan), "confidence"),
        (replace(CLEAN, payouts={"EURUSD_otc": 0.79}), SURE, "payout"),
        (replace(CLEAN, payouts={}), SURE, "payout"),
        (replace(CLEAN, open_orders=3), SURE, "max_open"),
        (replace(CLEAN, last_hour=5), SURE, "per_hour"),
        (replace(CLEAN, balance=1.5), SURE, "stake"),
    ],
)
def test_skipping_rules_skip_at_their_limit(account: AccountState, intent: Intent, rule: str) -> None:
    verdict = refused(account, intent)
    assert verdict.rule == rule
    assert not verdict.stops
    assert verdict.message


def test_limits_met_exactly_pass_where_the_limit_is_a_lowest_value() -> None:
    # A payout of exactly 80 % and a confidence of exactly 0.6 are accepted.
    assert check(LIMITS, CLEAN, Intent("GBPUSD_otc", 0.6)) == Place(2.0)


def test_a_stake_below_the_brokers_smallest_amount_is_skipped() -> None:
    limits = replace(LIMITS, fraction=0.01)
    small = refused(replace(CLEAN, balance=50.0), limits=limits)
    assert (small.rule, small.stops) == ("stake", False)
    enough = check(limits, replace(CLEAN, balance=100.0), SURE)
    assert isinstance(enough, Place) and enough.stake == pytest.approx(1.0)


def test_an_empty_asset_list_allows_every_asset_and_no_payout_limit_needs_no_payout() -> None:
    limits = replace(LIMITS, assets=frozenset(), min_payout=0.0)
    assert check(limits, replace(CLEAN, payouts={}), Intent("XAUUSD", 0.9)) == Place(2.0)


def test_a_stopping_rule_is_named_before_a_skipping_one() -> None:
    account = replace(CLEAN, losses_in_a_row=3, open_orders=3)
    assert refused(account, Intent("AUDCAD_otc", 0.1)).rule == "losses_in_a_row"
