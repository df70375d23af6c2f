"""After a restart, each order in flight is decided from what the page reports: never sent again."""

from __future__ import annotations

from quantumflux.trader.reconcile import PageDeals, reconcile
from tests.trader.orders import T0, deal, order

TIMEOUT = 30.0
LATER = T0 + 120  # the restart, well after every request's time-out


def states(changes: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(o.request_id, o.state) for o in changes]


def test_requested_and_seen_open_is_open() -> None:
    page = PageDeals(opened=(deal("open", "D1", request_id="1", open_price=1.2),))
    result = reconcile([order("1")], page, LATER, TIMEOUT)
    assert states(result.changes) == [("1", "open")]
    assert (result.changes[0].deal_id, result.changes[0].open_price, result.changes[0].ts) == (
        "D1",
        1.2,
        LATER,
    )
    assert result.done


def test_requested_and_never_seen_is_unknown_not_sent_again() -> None:
    result = reconcile([order("1")], PageDeals(), LATER, TIMEOUT)
    assert states(result.changes) == [("1", "unknown")]
    assert "not sent again" in (result.changes[0].reason or "")
    assert result.done


def test_requested_moments_ago_and_not_seen_yet_waits() -> None:
    result = reconcile([order("1")], PageDeals(), T0 + 5, TIMEOUT)
    assert result.changes == []
    assert [o.request_id for o in result.waiting] == ["1"]
    assert not result.done


def test_open_and_seen_closed_is_closed() -> None:
    open_order = order("1", state="open", deal_id="D1", open_price=1.2)
    page = PageDeals(closed=(deal("closed", "D1", open_price=1.2, close_price=1.3, profit=0.92),))
    result = reconcile([open_order], page, LATER, TIMEOUT)
    assert [(o.state, o.close_price, o.profit) for o in result.changes] == [("closed", 1.3, 0.92)]


def test_open_and_still_open_changes_nothing_and_open_but_gone_is_unknown() -> None:
    still = order("1", state="open", deal_id="D1")
    gone = order("2", state="open", deal_id="D2")
    page = PageDeals(opened=(deal("open", "D1"),))
    result = reconcile([still, gone], page, LATER, TIMEOUT)
    assert states(result.changes) == [("2", "unknown")]
    assert result.done


def test_requested_and_seen_closed_is_opened_then_closed() -> None:
    page = PageDeals(closed=(deal("closed", "D1", request_id="1", close_price=1.0, profit=-1.0),))
    result = reconcile([order("1")], page, LATER, TIMEOUT)
    assert states(result.changes) == [("1", "open"), ("1", "closed")]
    assert result.changes[-1].profit == -1.0


def test_without_request_ids_deals_are_matched_by_asset_amount_and_time_in_order() -> None:
    first, second = order("1", ts=T0), order("2", ts=T0 + 10)
    page = PageDeals(
        opened=(
            deal("open", "LATE", open_time=T0 + 10.4),
            deal("open", "EARLY", open_time=T0 + 0.3),
            deal("open", "USERS", open_time=T0 - 600),  # the user's own, long before
        )
    )
    result = reconcile([first, second], page, LATER, TIMEOUT)
    assert [(o.request_id, o.deal_id) for o in result.changes] == [("1", "EARLY"), ("2", "LATE")]


def test_a_deal_already_owned_is_not_taken_by_another_order() -> None:
    owner = order("1", state="open", deal_id="D1")
    page = PageDeals(opened=(deal("open", "D1", open_time=T0 + 0.5),))
    result = reconcile([owner, order("2", ts=T0)], page, LATER, TIMEOUT)
    assert states(result.changes) == [("2", "unknown")]


def test_refusals_seen_since_the_restart_reject_the_oldest_orders_first() -> None:
    refusal = deal("failed", None, action=None, error="the asset is closed")
    page = PageDeals(failed=(refusal,))
    result = reconcile([order("1", ts=T0), order("2", ts=T0 + 1)], page, T0 + 5, TIMEOUT)
    assert [(o.request_id, o.state, o.reason) for o in result.changes] == [
        ("1", "rejected", "the asset is closed")
    ]
    assert [o.request_id for o in result.waiting] == ["2"]


def test_page_deals_sorts_deals_by_state() -> None:
    page = PageDeals.of([deal("open", "A"), deal("closed", "B"), deal("failed", None)])
    assert ([d.id for d in page.opened], [d.id for d in page.closed], len(page.failed)) == (["A"], ["B"], 1)


def test_a_requested_order_seen_opened_and_then_closed_is_closed() -> None:
    # The open names the requestId; the close, like the broker's, names only the deal.
    page = PageDeals.of(
        [
            deal("open", "d1", request_id="r1", open_price=1.1),
            deal("closed", "d1", open_price=1.1, close_price=1.2, profit=0.92),
        ]
    )
    result = reconcile([order("r1")], page, T0 + 20, 30.0)
    assert [(o.state, o.deal_id, o.profit) for o in result.changes] == [
        ("open", "d1", None),
        ("closed", "d1", 0.92),
    ]
    assert result.done
