"""The restart policy of the supervisor."""

from quantumflux.qf.supervisor import RestartPolicy


def test_restart_delays_grow_then_give_up():
    policy = RestartPolicy(limit=3, window=60)
    assert [policy.delay(t) for t in (0, 1, 2)] == [1.0, 2.0, 4.0]
    assert policy.delay(3) is None
    # After the window, restarts are allowed again.
    assert policy.delay(100) == 1.0
