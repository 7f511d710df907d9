"""A live session's timeline: segment events moved onto it, joined across cuts, gaps found.

A handler reports times from the start of its own recordings; :func:`shift` moves a
segment's violations onto the session timeline (``+ offset_s``). :func:`join_across_cuts`
turns the events of consecutive segments into the session's events: an event that ends at a
cut (within ``tolerance_s``) and one of the same kind (same ``type`` and, when present, the
same ``direction`` / ``cue`` / ``title`` / ``window`` / ``voices`` detail) that starts there
in the next segment, at most :data:`JOIN_GAP_S` later (or ``details.join_gap_s``, when the
handler's check merges events that far apart), are one event, as one pass over the whole recording would have found.
:func:`gaps` names what is missing: segment indices never analysed (or analysed with an
error), and stretches of time no segment covers.

A handler that is given a segment may report, at the segment's start or end, a *fragment*: an
event with ``details.partial_min_s`` that is a violation only when, joined across the cuts
with the events it continues, it lasts at least that long (an idle stretch of 40 s that a cut
splits into 25 s and 15 s). :func:`long_enough` says whether it does; :func:`violations` keeps
what qualifies, as the result schema has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import Any

from ml_service.core.carry import SegmentRecord

__all__ = ["JOIN_GAP_S", "JOIN_TOLERANCE_S", "JOIN_GAP", "PARTIAL", "clean", "gaps", "join_gap", "join_across_cuts", "long_enough", "same_kind", "shift",
           "violations"]

JOIN_TOLERANCE_S = 2.0  # how far from a cut a joined event may end (sampling at the edges)
JOIN_GAP_S = 1.0  # the longest pause between two parts of one event across a cut
_KIND_KEYS = ("direction", "cue", "title", "window", "voices")
PARTIAL = "partial_min_s"
_ALIKE = 0.75
_CARRY_ONLY = ("alert_id", "since_s", "alerted", "parts")
JOIN_GAP = "join_gap_s"
_MARKS = (PARTIAL, JOIN_GAP)

Event = dict[str, Any]


def long_enough(event: Event, length_s: float) -> bool:
    """Is ``event`` a violation when the violation it belongs to lasts ``length_s``?"""
    least = (event.get("details") or {}).get(PARTIAL)
    return least is None or length_s >= float(least) - 1e-6


def clean(event: Event) -> Event:
    """An event as the result schema has it: no alert id, no fragment mark."""
    out = {k: v for k, v in event.items() if k not in _CARRY_ONLY}
    if any(k in (out.get("details") or {}) for k in _MARKS):
        out["details"] = {k: v for k, v in out["details"].items() if k not in _MARKS}
    return out


def join_gap(a: Event, b: Event) -> float:
    """The longest pause across a cut at which ``a`` and ``b`` are one event: :data:`JOIN_GAP_S`,
    or more when a handler says its check merges events that far apart (``details.join_gap_s``)."""
    asked = [float((e.get("details") or {}).get(JOIN_GAP, 0.0)) for e in (a, b)]
    return max(JOIN_GAP_S, *asked)


def violations(events: Iterable[Event]) -> list[Event]:
    """The events that qualify on their own times (joined ones: on the whole violation's)."""
    return [e for e in events if long_enough(e, e["end_s"] - e["start_s"])]


def shift(violations: Iterable[Event], offset_s: float) -> list[Event]:
    """Violations moved by ``offset_s`` (rounded to the millisecond)."""
    return [{**v, "start_s": round(v["start_s"] + offset_s, 3), "end_s": round(v["end_s"] + offset_s, 3)}
            for v in violations]


def same_kind(a: Event, b: Event) -> bool:
    """Same type, and no identifying detail that differs (texts: read alike, as OCR reads a
    window title a little differently from one segment to the next)."""
    if a["type"] != b["type"]:
        return False
    da, db = a.get("details") or {}, b.get("details") or {}
    return all(_alike(da[k], db[k]) for k in _KIND_KEYS if k in da and k in db)


def _alike(x: Any, y: Any) -> bool:
    if isinstance(x, str) and isinstance(y, str):
        return SequenceMatcher(None, x.casefold(), y.casefold()).ratio() >= _ALIKE
    return x == y


def _contiguous(prev: SegmentRecord | None, seg: SegmentRecord, tolerance_s: float) -> bool:
    return (prev is not None and prev.ok and prev.index == seg.index - 1
            and abs(seg.offset_s - prev.end_s) <= tolerance_s)


def join_across_cuts(segments: Sequence[SegmentRecord], tolerance_s: float = JOIN_TOLERANCE_S) -> list[Event]:
    """The session's events from its segments' (session-timeline) events, joined at the cuts
    between consecutive segments (``parts``: the events each was joined from); failed segments
    contribute nothing."""
    ordered = sorted((s for s in segments if s.ok), key=lambda s: s.index)
    out: list[Event] = []
    ends_in: list[int] = []  # per event in ``out``, the index of the segment its end came from
    prev: SegmentRecord | None = None
    for seg in ordered:
        joinable = _contiguous(prev, seg, tolerance_s)
        for event in sorted(seg.violations, key=lambda v: (v["start_s"], v["type"])):
            at = _continued(out, ends_in, event, prev, seg, tolerance_s) if joinable else None
            if at is None:
                out.append({**event, "parts": [event]})
                ends_in.append(seg.index)
            else:
                out[at] = {**_joined(out[at], event), "parts": [*out[at]["parts"], event]}
                ends_in[at] = seg.index
        prev = seg
    return sorted(out, key=lambda v: (v["start_s"], v["type"]))


def _continued(out: list[Event], ends_in: list[int], event: Event, prev: SegmentRecord | None,
               seg: SegmentRecord, tolerance_s: float) -> int | None:
    """Index in ``out`` of the event that ``event`` continues across the cut before ``seg``."""
    if prev is None:
        return None
    for at in range(len(out) - 1, -1, -1):
        old = out[at]
        reach = max(tolerance_s, join_gap(old, event))
        if (ends_in[at] == prev.index and old["end_s"] >= prev.end_s - reach and event["start_s"] <= seg.offset_s + reach
                and event["start_s"] - old["end_s"] <= join_gap(old, event) and same_kind(old, event)):
            return at
    return None


def _joined(first: Event, second: Event) -> Event:
    """One event from two parts: the first's start and identity, the later end, the higher
    confidence, the details of the longer part."""
    longer = first if first["end_s"] - first["start_s"] >= second["end_s"] - second["start_s"] else second
    joined = {**first, "end_s": max(first["end_s"], second["end_s"]),
              "confidence": max(first["confidence"], second["confidence"])}
    details = dict(longer.get("details") or {})
    if "duration_s" in details:
        details["duration_s"] = round(joined["end_s"] - joined["start_s"], 2)
    if details or "details" in first:
        joined["details"] = details
    return joined


def gaps(segments: Sequence[SegmentRecord], last_index: int | None, tolerance_s: float = JOIN_TOLERANCE_S,
         ) -> list[dict[str, Any]]:
    """What the session's result does not cover: missing or failed segments, uncovered time."""
    by_index = {s.index: s for s in segments}
    top = last_index if last_index is not None else max(by_index, default=-1)
    out: list[dict[str, Any]] = []
    for index in range(top + 1):
        seg = by_index.get(index)
        if seg is None:
            out.append({"index": index, "start_s": _end_before(by_index, index),
                        "end_s": _start_after(by_index, index, top), "reason": "not received"})
        elif not seg.ok:
            end = seg.end_s if seg.end_s > seg.offset_s else _start_after(by_index, index, top)
            out.append({"index": index, "start_s": seg.offset_s, "end_s": end,
                        "reason": f"analysis failed (error {seg.error_code})"})
        elif (index > 0 and index - 1 in by_index and by_index[index - 1].ok
              and seg.offset_s - by_index[index - 1].end_s > tolerance_s):
            out.append({"index": index, "start_s": by_index[index - 1].end_s, "end_s": seg.offset_s,
                        "reason": "time between segments not covered by either"})
    return out


def _end_before(by_index: dict[int, SegmentRecord], index: int) -> float | None:
    earlier = [s for i, s in by_index.items() if i < index]
    return max(s.end_s for s in earlier) if earlier else (0.0 if index == 0 else None)


def _start_after(by_index: dict[int, SegmentRecord], index: int, top: int) -> float | None:
    later = [s for i, s in by_index.items() if index < i <= top]
    return min(s.offset_s for s in later) if later else None
