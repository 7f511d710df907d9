"""The whole-session part of typist_change (handlers.keystrokes.session_test) on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.keystrokes import session_test as st
from tests.handlers.keystroke_helpers import switched_residuals


def _stretch_x(r: np.ndarray, ids: np.ndarray) -> float:
    return sum(r[ids == i].sum() ** 2 / (ids == i).sum() - 1.0 for i in np.unique(ids))


def test_suffix_statistics_match_a_direct_count() -> None:
    rng = np.random.default_rng(0)
    index = np.sort(rng.choice(400, 300, replace=False))
    ids, r = rng.integers(0, 12, 300), rng.normal(0.3, 1.0, 300)
    got = st.suffixes(index, r, ids, 400)
    assert list(got.start) == list(range(0, 400, st.STEP_KEYS))
    for j, k in enumerate(got.start):
        keep = index >= k
        assert got.timings[j] == keep.sum() and got.pairs[j] == len(np.unique(ids[keep]))
        assert got.x[j] == pytest.approx(_stretch_x(r[keep], ids[keep]))


def test_a_long_log_takes_a_wider_step() -> None:
    got = st.suffixes(np.array([5, 90_000]), np.array([1.0, 1.0]), np.array([1, 1]), 100_000)
    assert len(got.start) <= st.MAX_STARTS and got.timings[0] == 2
    assert got.timings[got.start == 90_000][0] == 1 and got.timings[-1] == 0


def _parts(shift_from: int, shift: float, n: int = 2000) -> st.Suffixes:
    index, r, ids = switched_residuals(shift_from, shift, n)
    return st.suffixes(index, r, ids, n)


def test_the_candidate_is_not_flagged_and_another_typist_is_from_the_switch() -> None:
    assert st.decide([_parts(10**9, 0.0)], 0.8, 10.0) is None
    verdict = st.decide([_parts(1000, 2.0)], 0.8, 10.0)  # whole-session effect about 1
    assert verdict is not None and abs(verdict.first - 1000) <= 2 * st.STEP_KEYS
    assert verdict.effect >= verdict.threshold == 0.8 and verdict.significance >= 10.0


def test_short_logs_get_no_verdict() -> None:
    assert st.decide([_parts(0, 3.0, n=st.MIN_TIMINGS - 1)], 0.8, 10.0) is None
