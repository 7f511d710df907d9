"""The carry: what one segment's analysis hands to the next, travelling through the platform.

Workers keep no state between the segments of a live session: each segment's answer holds a
``carry`` object (``schemas/carry.schema.json``, version ``ml-service/carry/1``) and the
platform passes it back with a later segment. It holds

* ``segments``: per analysed segment its place on the session timeline, whether it was
  analysed with its predecessor's state (``follows``), its error code and its violations on
  the session timeline, each with the ``alert_id`` it was announced under (the final merge,
  joining events across cuts and alerting each violation once all read these);
* ``handler``: the handler's own small state (``result["carry"]``) after each of the latest
  :data:`KEEP_HANDLER_STATES` segments, keyed by the segment it came from;
* ``seen`` (the indices of ``segments``) and ``last_index``.

A platform that got answers out of order may pass several carries (a list); :func:`read_carries`
merges them (union of segments and handler states). A carry that is malformed, of another
version or of another session is ignored with a note: the segment is then analysed as if it
came without one. :meth:`Carry.to_json` keeps the object within :data:`MAX_CARRY_BYTES` and
:data:`MAX_CARRY_DEPTH` by dropping the ``details`` of the oldest events first, then the older
handler states (``trimmed``): the next segment's body, which holds it, must pass the worker's
limits on untrusted JSON (:mod:`ml_service.core.bounded`: 1,000,000 characters, 32 levels).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from ml_service.core.bounded import JSON_MAX_DEPTH, json_depth

__all__ = ["CARRY_SCHEMA_ID", "Carry", "SegmentRecord", "carry_schema", "read_carries"]

logger = logging.getLogger(__name__)

CARRY_SCHEMA_ID = "ml-service/carry/1"
# Sizes are of json.dumps (ASCII): three full carries fit in one body under bounded's limit, two
# when the body is JSON text inside an LMS envelope (each quote escaped once more).
MAX_CARRY_BYTES = 256 * 1024
BODY_CARRIES = 3  # tests/test_live.py checks they fit in JSON_MAX_CHARS with the rest of a body
# Levels around a carry in a body: an envelope, its student_response, segment, a list of carries.
MAX_CARRY_DEPTH = JSON_MAX_DEPTH - 4
MAX_HANDLER_STATE_BYTES = 32 * 1024
_STATE_DEPTH = MAX_CARRY_DEPTH - 3  # carry -> handler -> item -> state
_DETAILS_DEPTH = MAX_CARRY_DEPTH - 5  # carry -> segments -> segment -> violations -> event -> details
KEEP_HANDLER_STATES = 4
_MAX_CARRIES = 16


@lru_cache(maxsize=None)
def carry_schema() -> dict[str, Any]:
    """The carry JSON Schema shipped in the package."""
    return json.loads(resources.files("ml_service.core.schemas").joinpath("carry.schema.json").read_text("utf-8"))


@dataclass(frozen=True)
class SegmentRecord:
    """One analysed segment as the carry remembers it (times on the session timeline)."""

    index: int
    offset_s: float
    end_s: float
    follows: bool
    error_code: int
    violations: tuple[dict[str, Any], ...] = ()
    processing_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error_code == 0

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "offset_s": self.offset_s, "end_s": self.end_s, "follows": self.follows,
                "error_code": self.error_code, "processing_time_s": self.processing_time_s,
                "violations": [dict(v) for v in self.violations]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentRecord:
        return cls(int(data["index"]), float(data["offset_s"]), float(data["end_s"]), bool(data["follows"]),
                   int(data["error_code"]), tuple(data["violations"]), float(data.get("processing_time_s", 0.0)))


@dataclass(frozen=True)
class Carry:
    """The state of a live session as far as one worker knows it."""

    session_id: str
    modality: str
    segments: dict[int, SegmentRecord] = field(default_factory=dict)
    handler: dict[int, dict[str, Any]] = field(default_factory=dict)  # from_index -> state
    last_index: int | None = None
    trimmed: bool = False

    @property
    def seen(self) -> list[int]:
        return sorted(self.segments)

    def handler_state(self, index: int) -> tuple[dict[str, Any] | None, int | None]:
        """The handler state to analyse segment ``index`` with, and the segment it came from:
        the latest one before ``index``; else the latest after it (its session-wide facts
        still hold; the handler knows from ``follows`` that it does not continue it)."""
        before = [i for i in self.handler if i < index]
        after = [i for i in self.handler if i > index]
        chosen = max(before) if before else (max(after) if after else None)
        return (self.handler[chosen], chosen) if chosen is not None else (None, None)

    def with_segment(self, record: SegmentRecord, state: dict[str, Any] | None, last: bool) -> Carry:
        """This carry plus one analysed segment (and the handler's state after it)."""
        handler = dict(self.handler)
        if state is not None and _small(state):
            handler[record.index] = state
        keep = sorted(handler)[-KEEP_HANDLER_STATES:]
        return replace(self, segments={**self.segments, record.index: record},
                       handler={i: handler[i] for i in keep},
                       last_index=record.index if last else self.last_index)

    def to_json(self) -> dict[str, Any]:
        """The carry as sent, within :data:`MAX_CARRY_BYTES` and :data:`MAX_CARRY_DEPTH`: deep
        details are dropped, then the details of the oldest events, then older handler states."""
        data = self._json(self.segments, self.handler, self.trimmed)
        if _fits(data):
            return data
        segments = {i: _shallow(r) for i, r in self.segments.items()}
        handler = dict(self.handler)
        excess = len(json.dumps(self._json(segments, handler, True))) - MAX_CARRY_BYTES
        for index in sorted(segments):  # one size estimate, not one json.dumps per segment
            if excess <= 0:
                break
            excess -= sum(len(json.dumps(ev["details"])) + 13 for ev in segments[index].violations if "details" in ev)
            segments[index] = _shallow(segments[index], keep_details=False)
        data = self._json(segments, handler, True)
        while not _fits(data) and len(handler) > 1:
            handler.pop(min(handler))
            data = self._json(segments, handler, True)
        if _fits(data):
            logger.warning("Carry of session %s trimmed: details of older events (or older handler states) "
                           "dropped", self.session_id)
        else:  # thousands of events: the next body may pass bounded's limit still (three times this one)
            logger.error("Carry of session %s is %d characters even trimmed, over %d", self.session_id,
                         len(json.dumps(data)), MAX_CARRY_BYTES)
        return data

    def _json(self, segments: dict[int, SegmentRecord], handler: dict[int, dict[str, Any]],
              trimmed: bool) -> dict[str, Any]:
        return {"schema": CARRY_SCHEMA_ID, "session_id": self.session_id, "modality": self.modality,
                "seen": sorted(segments), "last_index": self.last_index,
                "segments": [segments[i].to_json() for i in sorted(segments)],
                "handler": [{"from_index": i, "state": handler[i]} for i in sorted(handler)],
                "trimmed": trimmed}


def _fits(data: dict[str, Any]) -> bool:
    text = json.dumps(data)
    return len(text) <= MAX_CARRY_BYTES and json_depth(text) <= MAX_CARRY_DEPTH


def _shallow(record: SegmentRecord, keep_details: bool = True) -> SegmentRecord:
    """The record without its events' details (all, or those nested too deep for a body)."""
    def keep(ev: dict[str, Any]) -> bool:
        return keep_details and json_depth(json.dumps(ev["details"])) <= _DETAILS_DEPTH

    return replace(record, violations=tuple({k: v for k, v in ev.items() if k != "details"}
                                            if "details" in ev and not keep(ev) else ev for ev in record.violations))


def _small(state: dict[str, Any]) -> bool:
    text = json.dumps(state)
    if len(text) > MAX_HANDLER_STATE_BYTES or json_depth(text) > _STATE_DEPTH:
        logger.warning("Handler carry of %d bytes, %d levels dropped (at most %d, %d)", len(text),
                       json_depth(text), MAX_HANDLER_STATE_BYTES, _STATE_DEPTH)
        return False
    return True


def read_carries(raw: Any, session_id: str, modality: str) -> tuple[Carry | None, list[str]]:
    """The merged carry of a segment submission (None, one object or a list), and notes on
    every carry that was ignored and why."""
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    notes: list[str] = []
    if len(items) > _MAX_CARRIES:
        notes.append(f"{len(items) - _MAX_CARRIES} carries beyond the first {_MAX_CARRIES} ignored")
        items = items[:_MAX_CARRIES]
    carries = []
    for n, item in enumerate(items):
        problem = _problem(item, session_id, modality)
        if problem:
            notes.append(f"carry {n + 1} ignored: {problem}")
        else:
            carries.append(_from_json(item))
    return (_merge(carries) if carries else None), notes


def _problem(item: Any, session_id: str, modality: str) -> str | None:
    if not isinstance(item, dict):
        return "not an object"
    if item.get("schema") != CARRY_SCHEMA_ID:
        return f"version {str(item.get('schema'))[:40]!r} is not {CARRY_SCHEMA_ID}"
    error = next(jsonschema.Draft202012Validator(carry_schema()).iter_errors(item), None)
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "carry"
        return f"{where}: {error.message[:160]}"
    if item["session_id"] != session_id:
        return "it belongs to another session"
    if item["modality"] != modality:
        return f"it belongs to modality {item['modality']!r}"
    if sorted(item["seen"]) != sorted(s["index"] for s in item["segments"]):
        return "seen does not list the indices of segments"
    return None


def _from_json(item: dict[str, Any]) -> Carry:
    return Carry(item["session_id"], item["modality"],
                 {s["index"]: SegmentRecord.from_json(s) for s in item["segments"]},
                 {h["from_index"]: h["state"] for h in item["handler"]},
                 item.get("last_index"), bool(item.get("trimmed", False)))


def _merge(carries: list[Carry]) -> Carry:
    """One carry holding what all of them hold (a successful record wins over a failed one)."""
    segments: dict[int, SegmentRecord] = {}
    handler: dict[int, dict[str, Any]] = {}
    for carry in carries:
        for index, record in carry.segments.items():
            if index not in segments or (record.ok and not segments[index].ok):
                segments[index] = record
        handler.update(carry.handler)
    keep = sorted(handler)[-KEEP_HANDLER_STATES:]
    lasts = [c.last_index for c in carries if c.last_index is not None]
    first = carries[0]
    return Carry(first.session_id, first.modality, segments, {i: handler[i] for i in keep},
                 max(lasts) if lasts else None, any(c.trimmed for c in carries))
