"""Small generated logs shared by the typist_change tests (session_test and stretch_test)."""

from __future__ import annotations

import numpy as np

__all__ = ["switched_residuals"]


def switched_residuals(shift_from: int, shift: float, n: int = 2000,
                       seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(index, residuals, pair ids)`` of ``n`` timings over 40 key pairs: the candidate's
    (mean 0) until key ``shift_from``, then each pair off by +-``shift`` (another typist's own
    fast and slow pairs)."""
    rng = np.random.default_rng(seed)
    index, ids = np.arange(n), rng.integers(0, 40, n)
    offset = np.where(ids % 2 == 0, shift, -shift)
    r = rng.normal(0.0, 1.0, n) + np.where(index >= shift_from, offset, 0.0)
    return index, r, ids
