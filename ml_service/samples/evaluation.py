"""Scoring a handler's violations against a sample's truth: pure functions, no I/O.

Matching (:func:`match_events`): one-to-one, same ``type`` only. A (truth, predicted) pair is a
candidate when its interval IoU is at least ``min_iou`` (0.3) or the prediction covers at least
``min_truth_overlap`` (50 %) of the truth event. Candidates are taken greedily, best IoU first,
each event used at most once. So a truth event split into two predictions matches one of them
(the other is a false positive), and two truth events merged into one prediction match once
(the other truth event is missed).

A zero-length event is a point: two equal points have IoU 1; a point truth is covered when it
lies inside the prediction (ends included).

Per check (:func:`check_metrics`), over the samples in scope for that check (those listing it
in ``checks``, those whose truth has it, and every clean sample):

- ``precision`` = matched / predicted, ``recall`` = matched / truth events. When a denominator
  is 0 the value is 1.0 if the other side is empty too (nothing claimed, nothing missed) and
  0.0 otherwise: a silent detector is not "precise" on a set that holds events, and a detector
  that fires on a set with none is not "complete".
- ``mean_iou``: mean IoU of the matched pairs; ``None`` when nothing matched.
- ``false_alarms_per_clean_hour``: predicted events of that type on clean samples, divided by
  the clean samples' hours; ``None`` when there is no clean sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ml_service.samples.truth import Sample

__all__ = ["check_metrics", "checks_in", "evaluate", "interval_iou", "match_events", "truth_coverage"]

Event = Mapping[str, Any]


def _span(event: Event) -> tuple[float, float]:
    return float(event["start_s"]), float(event["end_s"])


def interval_iou(a: Event, b: Event) -> float:
    """Intersection over union of two events' ``[start_s, end_s]`` intervals."""
    (a0, a1), (b0, b1) = _span(a), _span(b)
    union = max(a1, b1) - min(a0, b0)
    if union <= 0:
        return 1.0  # two equal points
    return max(0.0, min(a1, b1) - max(a0, b0)) / union


def truth_coverage(truth: Event, predicted: Event) -> float:
    """Share of the truth event that the prediction overlaps (a point: 1.0 if inside)."""
    (t0, t1), (p0, p1) = _span(truth), _span(predicted)
    if t1 <= t0:
        return 1.0 if p0 <= t0 <= p1 else 0.0
    return max(0.0, min(t1, p1) - max(t0, p0)) / (t1 - t0)


def match_events(
    truth: Sequence[Event],
    predicted: Sequence[Event],
    min_iou: float = 0.3,
    min_truth_overlap: float = 0.5,
) -> list[tuple[int, int]]:
    """One-to-one matches as ``(truth_index, predicted_index)`` pairs, sorted by truth index."""
    candidates = []
    for ti, t in enumerate(truth):
        for pi, p in enumerate(predicted):
            if t["type"] != p["type"]:
                continue
            iou = interval_iou(t, p)
            cover = truth_coverage(t, p)
            if iou >= min_iou or (cover > 0 and cover >= min_truth_overlap):
                candidates.append((-iou, -cover, ti, pi))
    candidates.sort()
    used_t: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for _, _, ti, pi in candidates:
        if ti not in used_t and pi not in used_p:
            used_t.add(ti)
            used_p.add(pi)
            pairs.append((ti, pi))
    return sorted(pairs)


def _in_scope(sample: Sample, check: str) -> bool:
    return sample.clean or check in sample.checks or any(e["type"] == check for e in sample.truth)


def _ratio(num: int, den: int, other_side: int) -> float:
    if den == 0:
        return 1.0 if other_side == 0 else 0.0
    return num / den


def check_metrics(
    samples_with_predictions: Iterable[tuple[Sample, Sequence[Event]]],
    check: str,
    min_iou: float = 0.3,
) -> dict[str, Any]:
    """Precision, recall, mean IoU and clean-hour false alarms of one violation type.

    ``samples_with_predictions`` pairs each sample with the ``violations`` its handler reported.
    Also returns ``n_truth``, ``n_pred``, ``n_matched``, ``n_samples`` and ``clean_hours``.
    """
    n_truth = n_pred = n_samples = clean_alarms = 0
    clean_s = 0.0
    ious: list[float] = []
    for sample, predicted in samples_with_predictions:
        if not _in_scope(sample, check):
            continue
        n_samples += 1
        truth = [e for e in sample.truth if e["type"] == check]
        pred = [e for e in predicted if e["type"] == check]
        n_truth += len(truth)
        n_pred += len(pred)
        ious.extend(interval_iou(truth[t], pred[p]) for t, p in match_events(truth, pred, min_iou))
        if sample.clean:
            clean_s += sample.duration_s
            clean_alarms += len(pred)
    clean_hours = clean_s / 3600.0
    return {
        "precision": _ratio(len(ious), n_pred, n_truth),
        "recall": _ratio(len(ious), n_truth, n_pred),
        "mean_iou": sum(ious) / len(ious) if ious else None,
        "false_alarms_per_clean_hour": clean_alarms / clean_hours if clean_hours > 0 else None,
        "n_truth": n_truth,
        "n_pred": n_pred,
        "n_matched": len(ious),
        "n_samples": n_samples,
        "clean_hours": clean_hours,
    }


def checks_in(samples_with_predictions: Iterable[tuple[Sample, Sequence[Event]]]) -> list[str]:
    """Every violation type named by a sample's ``checks``, its truth, or a prediction; sorted."""
    found: set[str] = set()
    for sample, predicted in samples_with_predictions:
        found.update(sample.checks)
        found.update(e["type"] for e in sample.truth)
        found.update(e["type"] for e in predicted)
    return sorted(found)


def evaluate(
    samples_with_predictions: Iterable[tuple[Sample, Sequence[Event]]], min_iou: float = 0.3
) -> dict[str, dict[str, Any]]:
    """:func:`check_metrics` for every type found by :func:`checks_in`."""
    pairs = list(samples_with_predictions)
    return {check: check_metrics(pairs, check, min_iou) for check in checks_in(pairs)}
