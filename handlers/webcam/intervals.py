"""From per-sample labels to violation intervals.

A series is a time-sorted list of ``(t, label)`` where ``label`` is None (unknown: not
observed, e.g. the camera was dark), False (fine) or a truthy value (a category such as
``"left"``, or True). An interval runs over consecutive samples with the same truthy label;
its edges lie half-way to the neighbouring known samples, so the error is at most half the
sampling gap there. Unknown samples are skipped, never guessed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

__all__ = ["Span", "Violation", "merge", "spans", "violation"]

Span = tuple[float, float, Hashable]  # start_s, end_s, label
Violation = dict[str, Any]


def violation(kind: str, span: Span, confidence: float, **details: Any) -> Violation:
    """One result row: times rounded to 10 ms, confidence clipped to [0, 1]."""
    v: Violation = {"type": kind, "start_s": round(span[0], 2), "end_s": round(span[1], 2),
                    "confidence": round(float(min(1.0, max(0.0, confidence))), 3)}
    if details:
        v["details"] = details
    return v


def spans(series: Sequence[tuple[float, Hashable | None]], end_s: float, max_edge_gap_s: float = 2.0) -> list[Span]:
    """Runs of equal truthy labels; edges half-way to the next known sample (capped)."""
    known = [(t, lab) for t, lab in series if lab is not None]
    out: list[Span] = []
    i = 0
    while i < len(known):
        t, lab = known[i]
        if not lab:
            i += 1
            continue
        j = i
        while j + 1 < len(known) and known[j + 1][1] == lab:
            j += 1
        prev_t = known[i - 1][0] if i > 0 else 0.0
        next_t = known[j + 1][0] if j + 1 < len(known) else end_s
        start = t - min((t - prev_t) / 2, max_edge_gap_s) if i > 0 else 0.0 if t - prev_t <= max_edge_gap_s else t
        last = known[j][0]
        end = last + min((next_t - last) / 2, max_edge_gap_s) if j + 1 < len(known) else (
            end_s if next_t - last <= max_edge_gap_s else last)
        out.append((max(0.0, start), min(end_s, max(end, start)), lab))
        i = j + 1
    return out


def merge(items: list[Span], gap_s: float, min_s: float, same_label: bool = True) -> list[Span]:
    """Join intervals closer than ``gap_s`` (same label unless told), then drop short ones."""
    joined: list[Span] = []
    for start, end, lab in sorted(items, key=lambda s: s[0]):
        if joined and start - joined[-1][1] <= gap_s and (not same_label or joined[-1][2] == lab):
            s0, e0, l0 = joined[-1]
            joined[-1] = (s0, max(e0, end), l0 if (e0 - s0) >= (end - start) else lab)
        else:
            joined.append((start, end, lab))
    return [s for s in joined if s[1] - s[0] >= min_s]
