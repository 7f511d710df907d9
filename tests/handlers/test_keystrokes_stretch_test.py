"""The flights-only whole-stretch test of typist_change (handlers.keystrokes.stretch_test) on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.keystrokes import stretch_test as st
from handlers.keystrokes.rhythm import _table
from tests.handlers.keystroke_helpers import switched_residuals


def _scored(index: np.ndarray, r: np.ndarray, ids: np.ndarray, count: float = 1e9) -> st.Scored:
    return st.Scored(index, r, ids, np.full(len(r), float(count)))


def _stretch_x(r: np.ndarray, ids: np.ndarray, count: float) -> float:
    return sum(r[ids == i].sum() ** 2 / ((m := (ids == i).sum()) * (1 + m / count)) - 1.0 for i in np.unique(ids))


@pytest.mark.parametrize("count", [2.0, 1e9])
def test_suffix_statistics_match_a_direct_count(count: float) -> None:
    rng = np.random.default_rng(0)
    index = np.sort(rng.choice(400, 300, replace=False))
    ids, r = rng.integers(0, 12, 300), rng.normal(0.3, 1.0, 300)
    got = st.suffixes(_scored(index, r, ids, count), 400)
    assert list(got.start) == list(range(0, 400, st.STEP_KEYS))
    for j, k in enumerate(got.start):
        keep = index >= k
        assert got.timings[j] == keep.sum() and got.pairs[j] == len(np.unique(ids[keep]))
        assert got.x[j] == pytest.approx(_stretch_x(r[keep], ids[keep], count))


def test_a_long_log_takes_a_wider_step() -> None:
    got = st.suffixes(_scored(np.array([5, 90_000]), np.array([1.0, 1.0]), np.array([1, 1])), 100_000)
    assert len(got.start) <= st.MAX_STARTS and got.timings[0] == 2
    assert got.timings[got.start == 90_000][0] == 1 and got.timings[-1] == 0


def _parts(shift_from: int, shift: float, n: int = 2000) -> st.Suffixes:
    index, r, ids = switched_residuals(shift_from, shift, n)
    return st.suffixes(_scored(index, r, ids), n)


def test_the_candidate_is_not_flagged_and_another_typist_is_from_the_switch() -> None:
    assert st.decide(_parts(10**9, 0.0), 0.06, 4.0) is None
    verdict = st.decide(_parts(1000, 1.0), 0.06, 4.0)
    assert verdict is not None and abs(verdict.first - 1000) <= 2 * st.STEP_KEYS
    assert verdict.effect >= verdict.threshold == 0.06 and verdict.significance >= 4.0


def test_both_thresholds_must_pass_and_short_stretches_get_no_verdict() -> None:
    weak = _parts(0, 0.45)  # effect about 0.2, significance about 6
    assert st.decide(weak, 0.06, 4.0) is not None
    assert st.decide(weak, 0.5, 4.0) is None and st.decide(weak, 0.06, 50.0) is None
    assert st.decide(_parts(0, 3.0, n=st.MIN_TIMINGS - 1), 0.06, 4.0) is None


def test_a_pair_seen_twice_at_enrolment_is_weighed_as_uncertain() -> None:
    """The candidate types each of 30 pairs 40 times; the enrolment saw each twice, so its means
    are off by about spread / sqrt(2). Taking them as exact flags the candidate; the two-sample
    variance does not."""
    rng = np.random.default_rng(3)
    true_mean = rng.normal(-1.6, 0.4, 30)
    enrol_ids = np.repeat(np.arange(30), 2)
    table = _table(true_mean[enrol_ids] + rng.normal(0.0, 0.3, len(enrol_ids)), enrol_ids)
    ids = np.tile(np.arange(30), 40)
    part = st.scored(true_mean[ids] + rng.normal(0.0, 0.3, len(ids)), ids, table)
    assert part.count.max() == 2
    assert st.decide(st.suffixes(part, len(ids)), 0.06, 4.0) is None
    exact = st.Scored(part.index, part.r, part.ids, np.full(len(part.r), 1e9))
    assert st.decide(st.suffixes(exact, len(ids)), 0.06, 4.0) is not None


def test_a_pair_gets_its_own_spread_shrunk_to_the_pooled_one() -> None:
    rng = np.random.default_rng(4)
    ids = np.repeat([0, 1], 200)
    table = _table(np.where(ids == 0, rng.normal(0.0, 0.1, 400), rng.normal(0.0, 0.5, 400)), ids)
    steady, loose = table.own_spread(np.array([0, 1]), st.SPREAD_PRIOR)
    assert 0.09 < steady < 0.13 and 0.45 < loose < 0.55 and steady < table.spread < loose
    once = _table(np.array([0.0, 0.1, 0.5, 0.7, 0.2, 0.4] * 4 + [1.0]), np.array([0, 1, 2, 0, 1, 2] * 4 + [3]))
    assert once.own_spread(np.array([3]), st.SPREAD_PRIOR)[0] == pytest.approx(once.spread)
