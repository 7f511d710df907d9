"""Capped exponential backoff with half-fixed, half-jitter delays."""

from __future__ import annotations

import math

import pytest

from ml_service.core.backoff import Backoff, compute_backoff


def low() -> float:
    return 0.0


def high() -> float:
    return 1.0


@pytest.mark.parametrize("attempt, ceiling", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 32.0)])
def test_delay_lies_between_half_ceiling_and_ceiling(attempt, ceiling):
    assert compute_backoff(attempt, 1.0, 60.0, rand=low) == ceiling / 2
    assert compute_backoff(attempt, 1.0, 60.0, rand=high) == ceiling
    assert compute_backoff(attempt, 1.0, 60.0, rand=lambda: 0.5) == 0.75 * ceiling


def test_ceiling_doubles_per_attempt():
    delays = [compute_backoff(n, 0.5, 1000.0, rand=high) for n in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert all(b == 2 * a for a, b in zip(delays, delays[1:]))


def test_ceiling_is_capped():
    assert compute_backoff(7, 1.0, 60.0, rand=high) == 60.0  # 64 > 60
    assert compute_backoff(7, 1.0, 60.0, rand=low) == 30.0
    assert compute_backoff(50, 1.0, 60.0, rand=high) == 60.0


def test_cap_below_base_wins():
    assert compute_backoff(1, 10.0, 4.0, rand=high) == 4.0
    assert compute_backoff(1, 10.0, 4.0, rand=low) == 2.0


@pytest.mark.parametrize("attempt", [0, -1, -1000])
def test_attempt_below_one_is_no_wait(attempt):
    assert compute_backoff(attempt, 1.0, 60.0, rand=high) == 0.0


@pytest.mark.parametrize("attempt", [33, 1000, 10**6, 10**18, 10**100])
def test_huge_attempts_do_not_overflow(attempt):
    delay = compute_backoff(attempt, 1.0, 60.0, rand=high)
    assert delay == 60.0 and math.isfinite(delay)
    assert compute_backoff(attempt, 1.0, 60.0, rand=low) == 30.0


def test_huge_attempt_with_huge_cap_stays_finite():
    delay = compute_backoff(10**9, 1.0, float("inf"), rand=high)
    assert math.isfinite(delay) and delay == 2.0**32


def test_default_random_jitter_stays_in_bounds():
    for attempt in range(1, 12):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        for _ in range(20):
            assert ceiling / 2 <= compute_backoff(attempt, 1.0, 60.0) <= ceiling


def test_backoff_counts_failures_and_resets():
    b = Backoff(1.0, 10.0, rand=high)
    assert b.attempt == 0
    assert [b.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert b.attempt == 6
    b.reset()
    assert b.attempt == 0
    assert b.next_delay() == 1.0
    assert b.attempt == 1


def test_backoff_uses_injected_rand():
    calls = []

    def rand() -> float:
        calls.append(1)
        return 0.0

    b = Backoff(2.0, 100.0, rand=rand)
    assert [b.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]
    assert len(calls) == 3
