"""Alerts while the exam runs: one ``violation_detected`` status event per violation.

:func:`assign` gives each event a segment found (session timeline) an ``alert_id``: the id of
the violation it continues across a cut (an event of the same kind at the end of the segment
before, or at the start of the segment after, as the carry holds them), or a new one. An
event is announced when its violation is first seen, so a violation that runs across several
segments is announced once. A fragment (``details.partial_min_s``, see
:mod:`ml_service.core.timeline`) is announced only once the violation it belongs to is long
enough. The id is a hash of the session, modality, type and start, so two workers that
analyse the same segment with the same carry (a re-offered or duplicated submission) announce
it under the same id: a platform that keeps alerts by ``alert_id`` keeps each violation once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ml_service.core.carry import Carry, SegmentRecord
from ml_service.core.timeline import JOIN_TOLERANCE_S, join_gap, long_enough, same_kind

__all__ = ["alert_event", "alert_id", "assign", "unannounced"]

Event = dict[str, Any]


def alert_id(session_id: str, modality: str, event: Event) -> str:
    """A violation's id: the same for the same session, modality, type and start (0.1 s)."""
    basis = json.dumps([session_id, modality, event["type"], round(float(event["start_s"]), 1)])
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def assign(carry: Carry, index: int, offset_s: float, end_s: float, events: list[Event],
           tolerance_s: float = JOIN_TOLERANCE_S) -> tuple[list[Event], list[Event], list[Event]]:
    """For a segment's events (session timeline): all of them tagged with ``alert_id`` and
    ``since_s`` (for the carry), those that are violations (the segment's own result), and
    the alerts to send now (times of the whole violation as far as known)."""
    before, after = carry.segments.get(index - 1), carry.segments.get(index + 1)
    tagged, shown, new = [], [], []
    for event in events:
        prev = _across(event, before, offset_s, tolerance_s, at_end=True)
        nxt = _across(event, after, end_s, tolerance_s, at_end=False)
        since = prev.get("since_s", prev["start_s"]) if prev else event["start_s"]
        until = max(event["end_s"], nxt["end_s"]) if nxt else event["end_s"]
        known = prev or nxt
        ident = known["alert_id"] if known else alert_id(carry.session_id, carry.modality, event)
        was = any(old is not None and old.get("alerted", False) for old in (prev, nxt))
        qualifies = long_enough(event, until - since)
        tagged.append({**event, "alert_id": ident, "since_s": since, "alerted": was or qualifies})
        if qualifies:
            shown.append(tagged[-1])
        if qualifies and not was:
            new.append({**tagged[-1], "start_s": since, "end_s": until})
    return tagged, shown, new


def unannounced(violations: list[Event]) -> list[Event]:
    """The session's joined violations no part of which was announced when its segment was
    analysed (parts analysed without each other's carry, joined only now)."""
    return [v for v in violations if not any(p.get("alerted", False) for p in v.get("parts", [v]))]


def _across(event: Event, other: SegmentRecord | None, cut_s: float, tolerance_s: float,
            at_end: bool) -> Event | None:
    """``other``'s event that ``event`` continues across the cut at ``cut_s``."""
    if other is None or not other.ok or abs((other.end_s if at_end else other.offset_s) - cut_s) > tolerance_s:
        return None
    for old in other.violations:
        reach, pause = max(tolerance_s, join_gap(old, event)), (
            event["start_s"] - old["end_s"] if at_end else old["start_s"] - event["end_s"])
        near = abs((old["end_s"] if at_end else old["start_s"]) - cut_s) <= reach
        if (near and abs((event["start_s"] if at_end else event["end_s"]) - cut_s) <= reach
                and pause <= join_gap(old, event) and same_kind(old, event)):
            return old
    return None


def alert_event(carry: Carry, event: Event, index: int, offset_s: float, end_s: float,
                submission_id: int | None, recordings: list[str]) -> dict[str, Any]:
    """The ``data`` of a ``violation_detected`` status event."""
    data: dict[str, Any] = {
        "session_id": carry.session_id, "modality": carry.modality, "alert_id": event["alert_id"],
        "type": event["type"], "start_s": event["start_s"], "end_s": event["end_s"],
        "confidence": event["confidence"],
        "open": end_s - event["end_s"] <= JOIN_TOLERANCE_S,  # it may go on in the next segment
        "evidence": {"segment_index": index, "submission_id": submission_id,
                     "recording": recordings[0] if recordings else None,
                     "from_s": round(max(0.0, event["start_s"] - offset_s), 3),
                     "to_s": round(max(0.0, event["end_s"] - offset_s), 3)},
    }
    details = {k: v for k, v in (event.get("details") or {}).items() if k not in ("partial_min_s", "join_gap_s")}
    if details:
        data["details"] = details
    return data
