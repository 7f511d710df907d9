"""Small numeric tools the checks share: rolling window sums, flag runs, confidence ramps."""

from __future__ import annotations

import numpy as np

__all__ = ["Span", "merge_spans", "ramp", "rolling_sums", "runs", "windows"]

Span = tuple[float, float, int, int]  # start_s, end_s, first index, last index (inclusive)


def windows(n: int, width: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each centre ``i`` in ``[start, n)``: the window ``[lo, hi)`` of ``width`` items around it,
    clamped to ``[start, n)``."""
    centre = np.arange(start, n)
    half = width // 2
    lo = np.maximum(start, centre - half)
    hi = np.minimum(n, centre + half + 1)
    return lo, hi


def rolling_sums(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Count, sum and sum of squares of the non-NaN ``values`` in each window ``[lo, hi)``."""
    ok = ~np.isnan(values)
    x = np.where(ok, values, 0.0)
    out = []
    for column in (ok.astype(float), x, x * x):
        c = np.concatenate(([0.0], np.cumsum(column)))
        out.append(c[hi] - c[lo])
    return tuple(out)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(first, last)`` index pairs (inclusive) of the runs of True in ``mask``."""
    if not len(mask):
        return []
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def merge_spans(spans: list[Span], gap_s: float) -> list[Span]:
    """Join spans (sorted by start) separated by at most ``gap_s`` seconds."""
    merged: list[Span] = []
    for span in spans:
        if merged and span[0] - merged[-1][1] <= gap_s:
            s0, s1, i0, i1 = merged[-1]
            merged[-1] = (s0, max(s1, span[1]), i0, max(i1, span[3]))
        else:
            merged.append(span)
    return merged


def ramp(excess: float) -> float:
    """Confidence from how far a measure passes its threshold, as a share of the threshold's
    scale: 0.5 at the threshold, rising linearly to 1.0 one scale further."""
    return round(float(min(1.0, max(0.5, 0.5 + 0.5 * excess))), 3)
