"""The pure parts of partition leases: who a lease names, the fair share, what to try first."""

from __future__ import annotations

from quantumflux.candles.leases import claim_order, fair_share, owner_of


def test_owner_of_reads_name_and_epoch_and_refuses_other_shapes():
    assert owner_of("candles-1#7") == ("candles-1", 7)
    assert owner_of("host#a#12") == ("host#a", 12)  # the last '#' splits: names may hold one
    assert owner_of("vm-2565-9f3a1c") is None  # a value written before leases named their owner
    assert owner_of("candles-1#") is None
    assert owner_of("candles-1#x") is None


def test_fair_share_counts_a_name_once():
    assert fair_share(4, ["a", "b"], "a") == 2
    assert fair_share(5, ["a", "b"], "a") == 3
    assert fair_share(5, ["a", "b"], "b") == 2
    assert fair_share(4, ["b"], "a") == 2  # not yet listed: counted in


def test_claim_order_puts_our_names_leases_first_then_free_ones_and_skips_the_rest():
    holders = [None, "other#1", "me#1", None, "me#3", "me#2"]
    # Epoch 2: our epoch-1 lease and our own value, never a newer epoch of our name or another name.
    assert claim_order(holders, "me", 2, start=0) == [2, 5, 0, 3]
    # The free ones in the order this worker's rank starts at.
    assert claim_order(holders, "me", 2, start=3) == [5, 2, 3, 0]
    assert claim_order(holders, "you", 1, start=0) == [0, 3]
