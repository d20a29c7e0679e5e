"""Backoff: exponential waits with full jitter, shared by destinations and connectors."""

from __future__ import annotations

from ccf_core.retry import Backoff


def test_backoff_waits_a_random_time_below_an_exponential_ceiling_that_is_capped() -> None:
    backoff = Backoff(base=0.1, cap=1.0)

    delays = [backoff.delay(3) for _ in range(200)]

    assert [backoff.ceiling(attempt) for attempt in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert all(0.0 <= delay <= 0.8 for delay in delays)
    assert len(set(delays)) > 100
    assert min(delays) < 0.2 < 0.6 < max(delays)


def test_a_huge_attempt_number_stays_at_the_cap() -> None:
    assert Backoff(base=1.0, cap=30.0).ceiling(10_000) == 30.0


def test_the_old_import_path_still_gives_the_same_class() -> None:
    from ccf_core.destinations.retry import Backoff as FromDestinations

    assert FromDestinations is Backoff
