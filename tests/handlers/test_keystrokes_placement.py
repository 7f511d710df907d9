"""Where a found change of typist began (handlers.keystrokes.placement, change._placed)."""

from __future__ import annotations

import numpy as np

from handlers.keystrokes import change, placement
from handlers.keystrokes.session_test import STEP_KEYS

SWITCH = 800


def _takeover(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals of one feature (keystroke index, residual, pair id): the candidate (noise, with
    60 timings at 700-759 all 1.5 spreads slow: a stumble) up to :data:`SWITCH`, then a typist
    whose pairs sit one spread off the candidate's, each its own way."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n) % 40
    sign = np.where(rng.random(40) < 0.5, -1.0, 1.0)
    k = np.arange(n)
    r = rng.standard_normal(n) + np.where(k >= SWITCH, sign[ids], 0.0)
    r[700:760] += 1.5
    return k, np.clip(r, -change.R_CAP, change.R_CAP), ids


def _located_and_placed(seed: int) -> tuple[int, int]:
    index, r, ids = _takeover(seed)
    score = change._consistency(r, ids, memory=300)
    (first, peak, _), = change._cusum(score, drift=1.0, threshold=120.0)
    located = int(index[change._located(score, first, peak, change.LOCATE_DRIFT)])
    ev = change.Evidence(index, r, score)
    return located, change._placed(ev, [(index, r, ids)], located, int(index[peak]))


def test_a_start_moved_back_into_the_candidates_stumble_is_moved_to_the_switch() -> None:
    moved = 0
    for seed in range(8):
        located, placed = _located_and_placed(seed)
        assert placed >= located  # never earlier than where the evidence started to grow
        if located < SWITCH - 60:  # the smaller allowance carried the start back into the stumble
            moved += 1
            assert abs(placed - SWITCH) <= STEP_KEYS
    assert moved >= 3  # seeds 2, 4, 5, 6


def test_the_stretch_that_stands_out_most_starts_at_the_switch() -> None:
    index, r, ids = _takeover(2)
    assert abs(placement.change_start([(index, r, ids)], 0, 1999) - SWITCH) <= STEP_KEYS
    placed = placement.change_start([(index, r, ids)], 1000, 1999)
    assert placed is not None and 1000 <= placed <= 1999  # never before the lowest allowed start


def test_too_few_timings_give_no_placement() -> None:
    index, r, ids = _takeover(0)
    assert placement.change_start([(index, r, ids)], 1990, 1999) is None  # 10 timings
    assert placement.change_start([(index, r, ids)], 50, 10) is None
    empty = np.array([], dtype=np.int64)
    assert placement.change_start([(empty, np.array([]), empty)], 0, 500) is None


def test_flights_and_dwells_are_weighed_together() -> None:
    flights = _takeover(4)
    quiet = (flights[0], np.random.default_rng(9).standard_normal(2000), flights[2])  # dwells: no change
    placed = placement.change_start([flights, quiet], 600, 1999)
    assert placed is not None and abs(placed - SWITCH) <= STEP_KEYS
