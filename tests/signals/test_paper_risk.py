"""Paper trading under the trader's risk rules: each limit stops or skips a paper book exactly
where a plain reading of the rule says it must, and a book's results survive a checkpoint."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import pytest

from quantumflux.risk.rules import RiskLimits
from quantumflux.signals.paper import Paper, Rules, book_from_state, book_state

TF = 60
DAY = 86400


Session = list[tuple[int, float, int, float]]  # (candle time, close, direction, confidence)


def session(n: int, seed: int, start: int = 10 * DAY - 30 * TF) -> Session:
    """``n`` one-minute candles of a seeded walk, each with a signal (times cross a UTC midnight)."""
    rng = random.Random(seed)
    price, out = 1.0, []
    for i in range(n):
        price = round(price + rng.choice((-2, -1, 0, 1, 2)) * 1e-4, 5)
        out.append((start + i * TF, price, rng.choice((1, -1)), rng.random()))
    return out


def run_paper(rules: Rules, candles: Session, payout: float = 0.9, paper: Paper | None = None) -> Paper:
    """Paper trading on these candles and signals (one expiry candle, no gaps)."""
    paper = paper or Paper(rules)
    for t, close, direction, confidence in candles:
        paper.on_candle("A", TF, t, close, gap=False)
        book = paper.book("run", "A", TF, "1m")
        paper.on_signal(book, t, close, direction, confidence, payout)
    return paper


def by_hand(
    limits: dict[str, Any], candles: Session, payout: float = 0.9
) -> tuple[list[int], dict[str, int]]:
    """The same session with each rule read plainly: which candles opened a contract, and the
    refusals by rule (stopping rules looked at first, as the trader does)."""
    opened: list[int] = []
    refused: dict[str, int] = {}
    pending: tuple[int, int, float] | None = None  # (direction, entry time, entry price)
    pnl_by_day: dict[int, float] = {}
    streak = 0
    sent: deque[float] = deque()
    for t, close, direction, confidence in candles:
        if pending is not None:  # settles at this candle's close
            d, _t0, p0 = pending
            move = (close > p0) - (close < p0)
            profit = 0.0 if move == 0 else (payout if move == d else -1.0)
            day = (t + TF) // DAY
            pnl_by_day[day] = pnl_by_day.get(day, 0.0) + profit
            streak = 0 if profit > 0 else streak + 1 if profit < 0 else streak
            pending = None
        now = t + TF
        hour = [s for s in sent if s > now - 3600]
        rule = None
        if (
            limits.get("daily_loss") is not None
            and -pnl_by_day.get(now // DAY, 0.0) >= limits["daily_loss"] - 1e-9
        ):
            rule = "daily_loss"
        elif limits.get("max_losses") is not None and streak >= limits["max_losses"]:
            rule = "losses_in_a_row"
        elif confidence < limits.get("min_confidence", 0.0):
            rule = "confidence"
        elif payout < limits.get("min_payout", 0.0) - 1e-9:
            rule = "payout"
        elif limits.get("max_per_hour") is not None and len(hour) >= limits["max_per_hour"]:
            rule = "per_hour"
        if rule is not None:
            refused[rule] = refused.get(rule, 0) + 1
            continue
        sent.append(now)
        opened.append(t)
        pending = (direction, t, close)
    return opened, refused


CASES = [
    {"max_losses": 2},
    {"max_losses": 3, "min_confidence": 0.3},
    {"daily_loss": 2.5},
    {"max_per_hour": 7},
    {"min_payout": 0.95},
]


@pytest.mark.parametrize("limits", CASES, ids=lambda c: ",".join(c))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_limit_stops_or_skips_a_paper_book_where_the_rule_says(
    limits: dict[str, Any], seed: int
) -> None:
    candles = session(400, seed)
    paper = run_paper(Rules(expiry=1, **limits), candles)
    [book] = paper.books.values()
    want_opened, want_refused = by_hand(limits, candles)
    assert want_refused, "the case must meet its limit"
    assert book.trades + len(book.open) == len(want_opened)
    assert dict(book.refused) == want_refused


def test_the_daily_loss_stops_a_book_for_the_rest_of_its_utc_day_only() -> None:
    candles = session(2000, 7, start=10 * DAY)  # two UTC days (by candle time)
    paper = run_paper(Rules(expiry=1, daily_loss=3.0), candles)
    [book] = paper.books.values()
    opened, refused = by_hand({"daily_loss": 3.0}, candles)
    assert refused["daily_loss"] > 0 and book.refused == refused
    assert {t // DAY for t in opened} == {10, 11}  # stopped on the first day, trading on the second


def test_without_limits_a_book_takes_every_signal_as_the_backtest_does() -> None:
    candles = session(300, 4)
    paper = run_paper(Rules(expiry=1), candles)
    [book] = paper.books.values()
    assert book.trades + len(book.open) == len(candles) and not book.refused
    assert paper.limits == RiskLimits(
        stake=1.0, min_stake=0.0, max_open=1, daily_loss=None, max_per_hour=None, max_losses=None
    )


def test_a_books_results_and_refusals_survive_a_checkpoint() -> None:
    candles = session(300, 5)
    rules = Rules(expiry=1, max_losses=2, max_per_hour=20)
    whole = run_paper(rules, candles)
    # the same session cut in two, the paper state saved and read back in between
    first = run_paper(rules, candles[:150])
    again = run_paper(rules, candles[150:], paper=Paper.from_state(rules, first.to_state()))
    assert [book_state(b) for b in again.books.values()] == [book_state(b) for b in whole.books.values()]
    [b] = whole.books.values()
    assert sum(b.refused.values()) > 0
    assert book_from_state(book_state(b)).tally == b.tally
