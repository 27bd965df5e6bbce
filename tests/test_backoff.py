"""The one backoff: doubling delays, a cap, and a fresh start after a good run."""

from __future__ import annotations

from pi_indi._backoff import Backoff


def test_delays_double_up_to_the_cap():
    backoff = Backoff(1.0, 30.0, reset_after=60.0)
    assert [backoff.next() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff.failures == 7


def test_a_good_run_starts_over():
    backoff = Backoff(0.5, 8.0, reset_after=60.0)
    for _ in range(4):
        backoff.next(ran_for=1.0)
    assert backoff.next(ran_for=61.0) == 0.5
    assert backoff.failures == 1


def test_reset_starts_over():
    backoff = Backoff()
    backoff.next()
    backoff.next()
    backoff.reset()
    assert (backoff.next(), backoff.failures) == (1.0, 1)
