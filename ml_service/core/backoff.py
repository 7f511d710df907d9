"""Waiting policies: capped exponential backoff with full jitter, and an idle poll delay."""

from __future__ import annotations

import random
from typing import Callable

__all__ = ["Backoff", "compute_backoff"]


def compute_backoff(
    attempt: int, base_s: float, cap_s: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before retry number ``attempt`` (1-based): uniform in [cap/2, cap] of ``base*2^(n-1)``.

    Half of the delay is fixed and half is jitter, so retries never come in a tight loop and
    several workers do not retry in step.
    """
    if attempt < 1:
        return 0.0
    ceiling = min(cap_s, base_s * 2 ** min(attempt - 1, 32))
    return ceiling / 2 + rand() * ceiling / 2


class Backoff:
    """A counter of consecutive failures that yields the next delay; reset on success."""

    def __init__(self, base_s: float, cap_s: float, rand: Callable[[], float] = random.random) -> None:
        self.base_s, self.cap_s, self._rand = base_s, cap_s, rand
        self.attempt = 0

    def next_delay(self) -> float:
        self.attempt += 1
        return compute_backoff(self.attempt, self.base_s, self.cap_s, self._rand)

    def reset(self) -> None:
        self.attempt = 0
