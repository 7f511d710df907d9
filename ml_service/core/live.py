"""One segment of a live session: its analysis, its alerts, its answer and the carry it hands on.

A submission whose body has a ``segment`` object (``docs/contracts.md`` §5) is one segment of a
session being recorded. :class:`LiveJob` wraps the usual analysis (:mod:`ml_service.core.job`):

* it reads the carries the platform passed (:mod:`ml_service.core.carry`); a segment the carry
  already holds (duplicated or re-offered) is answered from it, without download or analysis;
* it gives the handler ``submission["segment"]``: ``index``, ``offset_s``, ``last``, and its own
  ``carry`` (the state the handler returned after an earlier segment, or None) with
  ``follows`` (True when that state is the one of the segment just before);
* after the handler, it takes ``result["carry"]`` (the handler's new state) out of the result,
  moves the violations onto the session timeline, announces the new ones
  (:mod:`ml_service.core.alerts`) and answers with the segment's own result, or, for the last
  segment, with the whole session's result: every segment's events joined across the cuts
  (:mod:`ml_service.core.timeline`), gaps reported. Either way ``result["carry"]`` is the new carry
  and ``result["live"]`` says what was done.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from ml_service.core.alerts import alert_event, assign, unannounced
from ml_service.core.carry import Carry, SegmentRecord, read_carries
from ml_service.core.results import build_result
from ml_service.core.timeline import clean, gaps, join_across_cuts, shift, violations

__all__ = ["LiveJob", "SegmentSpec", "segment_spec"]

logger = logging.getLogger(__name__)

Alert = Callable[[dict[str, Any]], None]
_BUILT = ("violations", "stats", "score")


@dataclass(frozen=True)
class SegmentSpec:
    """The body's ``segment`` object (already checked against the submission schema)."""

    index: int
    offset_s: float
    last: bool
    duration_s: float | None
    carry: Any


def segment_spec(raw: dict[str, Any] | None) -> SegmentSpec | None:
    """The segment a body describes, or None for a whole recording."""
    if raw is None:
        return None
    duration = raw.get("duration_s")
    return SegmentSpec(int(raw["index"]), float(raw["offset_s"]), bool(raw.get("last", False)),
                       float(duration) if duration is not None else None, raw.get("carry"))


class LiveJob:
    """The live-session side of one segment submission."""

    def __init__(self, seg: SegmentSpec, session_id: str, modality: str, submission_id: int) -> None:
        self.seg, self.submission_id = seg, submission_id
        carry, self.notes = read_carries(seg.carry, session_id, modality)
        self.had_carry = carry is not None
        self.carry = carry or Carry(session_id, modality)
        self.state, self.state_from = self.carry.handler_state(seg.index)
        for note in self.notes:
            logger.warning("Segment %d of session %s: %s", seg.index, session_id, note)

    @property
    def follows(self) -> bool:
        """The carry knows the segment just before this one (the first segment always follows)."""
        return self.seg.index == 0 or self.seg.index - 1 in self.carry.segments

    @property
    def known(self) -> SegmentRecord | None:
        """The carry's successful record of this very segment (a duplicate or a re-offer)."""
        record = self.carry.segments.get(self.seg.index)
        return record if record is not None and record.ok else None

    def handler_view(self) -> dict[str, Any]:
        """``submission["segment"]`` as the handler sees it."""
        return {"index": self.seg.index, "offset_s": self.seg.offset_s, "last": self.seg.last,
                "carry": self.state, "follows": self.state_from == self.seg.index - 1,
                "carry_from": self.state_from}

    def answer_known(self) -> tuple[dict[str, Any], str]:
        """A duplicate: the answer the carry already holds; nothing analysed, nothing announced."""
        record = self.known
        assert record is not None
        carry = self.carry.with_segment(record, None, self.seg.last) if self.seg.last else self.carry
        _, shown, _ = assign(self.carry, record.index, record.offset_s, record.end_s, list(record.violations))
        result = build_result(self.carry.modality, _plain(shown),
                              {"duration_s": round(record.end_s - record.offset_s, 3)}, 0.0)
        msg = f"segment {record.index} was already analysed (duplicate or re-offer): answered from the carry"
        return self._answer(result, msg, carry, record, shown, duplicate=True)

    def finish(self, result: dict[str, Any], msg: str, recordings: list[str], alert: Alert | None,
               ) -> tuple[dict[str, Any], str]:
        """The segment's answer from the handler's (or an error) result; announces new violations."""
        result = dict(result)
        state = result.pop("carry", None)
        ok = result["error_code"] == 0
        duration = (result.get("media") or {}).get("duration_s") or self.seg.duration_s or 0.0
        end_s = round(self.seg.offset_s + float(duration), 3)
        events = shift(result["violations"], self.seg.offset_s) if ok else []
        tagged, shown, new = assign(self.carry, self.seg.index, self.seg.offset_s, end_s, events)
        record = SegmentRecord(self.seg.index, self.seg.offset_s, end_s, self.follows,
                               int(result["error_code"]), tuple(tagged), float(result.get("processing_time_s", 0.0)))
        carry = self.carry.with_segment(record, state if ok and isinstance(state, dict) else None, self.seg.last)
        alerts = [alert_event(carry, e, self.seg.index, self.seg.offset_s, end_s, self.submission_id, recordings)
                  for e in (new if ok else [])]
        if self.seg.last and any(s.ok for s in carry.segments.values()):
            alerts += _late(carry)
            new += [{"alert_id": a["alert_id"]} for a in alerts[len(new):]]
        for data in alerts if alert is not None else []:
            alert(data)
        if ok:
            result = {**build_result(result["modality"], _plain(shown), result["media"], result["processing_time_s"]),
                      **{k: v for k, v in result.items() if k not in _BUILT}}
        return self._answer(result, msg, carry, record, shown, duplicate=False, alerted=[e["alert_id"] for e in new])

    def _answer(self, result: dict[str, Any], msg: str, carry: Carry, record: SegmentRecord, shown: list[dict[str, Any]],
                duplicate: bool, alerted: list[str] | None = None) -> tuple[dict[str, Any], str]:
        live = {"session_id": carry.session_id, "index": record.index, "offset_s": record.offset_s,
                "end_s": record.end_s, "last": self.seg.last, "final": False, "duplicate": duplicate,
                "carry": _carry_state(self.seg.index, self.had_carry, self.follows), "notes": list(self.notes),
                "alerted": alerted or [], "alert_ids": [v["alert_id"] for v in shown]}
        prefix = f"segment {record.index} of session {carry.session_id}"
        if self.seg.last and any(s.ok for s in carry.segments.values()):
            return _final(carry, result, live, msg)
        return {**result, "live": live, "carry": carry.to_json()}, f"{prefix}: {msg}"


def _carry_state(index: int, had_carry: bool, follows: bool) -> str:
    """``first``; ``used``: it knew the previous segment; ``partial``: only others; ``none``: alone."""
    if not had_carry:
        return "first" if index == 0 else "none"
    return "used" if follows else "partial"


def _late(carry: Carry) -> list[dict[str, Any]]:
    """Alerts of the violations only the final merge shows (their parts were analysed without
    each other's carry): sent with the last segment, so every violation is announced once. The
    evidence names the segment where the violation starts."""
    out = []
    for event in unannounced(violations(join_across_cuts(list(carry.segments.values())))):
        seg = min(carry.segments.values(), key=lambda s: (not s.offset_s <= event["start_s"] <= s.end_s, s.index))
        data = alert_event(carry, event, seg.index, seg.offset_s, float("inf"), None, [])
        out.append(data)
    return out


def _plain(events: Any) -> list[dict[str, Any]]:
    """Violations as the result schema has them (no alert ids, no fragment marks)."""
    return [clean(e) for e in events]


def _final(carry: Carry, own: dict[str, Any], live: dict[str, Any], msg: str) -> tuple[dict[str, Any], str]:
    """The whole session's result: every segment's events joined across the cuts."""
    records = sorted(carry.segments.values(), key=lambda s: s.index)
    ok = [s for s in records if s.ok]
    joined = violations(join_across_cuts(records))
    media = {"duration_s": round(max(s.end_s for s in ok), 3),
             "analysed_s": round(sum(s.end_s - s.offset_s for s in ok), 3),
             "segments": [{"index": s.index, "offset_s": s.offset_s, "end_s": s.end_s,
                           "error_code": s.error_code, "follows": s.follows} for s in records]}
    result = build_result(carry.modality, _plain(joined), media, sum(s.processing_time_s for s in records))
    missing = gaps(records, carry.last_index)
    live.update(final=True, gaps=missing, alert_ids=[e["alert_id"] for e in joined],
                cuts_without_carry=[s.index for s in ok if s.index > 0 and not s.follows],
                segment_result={k: own[k] for k in ("violations", "media", "error_code", "score", "msg") if k in own})
    found = f"{len(joined)} suspected violation(s), trust score {result['score']:.2f}"
    text = f"session {carry.session_id}: {len(ok)} segment(s) merged: {found}"
    text += f"; {len(missing)} gap(s): segments {', '.join(str(g['index']) for g in missing)}" if missing else ""
    return {**result, "live": live, "carry": carry.to_json()}, f"{text}. Last segment: {msg}"
