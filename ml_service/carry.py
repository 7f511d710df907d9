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
came without one. :meth:`Carry.to_json` keeps the object under :data:`MAX_CARRY_BYTES` by
dropping the ``details`` of the oldest events first (``trimmed``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = ["CARRY_SCHEMA_ID", "Carry", "SegmentRecord", "carry_schema", "read_carries"]

logger = logging.getLogger(__name__)

CARRY_SCHEMA_ID = "ml-service/carry/1"
MAX_CARRY_BYTES = 256 * 1024  # a body stays far below XQueue's 2.5 MB form limit, even with a few carries
MAX_HANDLER_STATE_BYTES = 32 * 1024
KEEP_HANDLER_STATES = 4
_MAX_CARRIES = 16


@lru_cache(maxsize=None)
def carry_schema() -> dict[str, Any]:
    """The carry JSON Schema shipped in the package."""
    return json.loads(resources.files("ml_service.schemas").joinpath("carry.schema.json").read_text("utf-8"))


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
        """The carry as sent, under :data:`MAX_CARRY_BYTES` (older events' details dropped first)."""
        data = self._json(self.segments, self.trimmed)
        if len(json.dumps(data)) <= MAX_CARRY_BYTES:
            return data
        segments = dict(self.segments)
        for index in sorted(segments):
            plain = tuple({k: v for k, v in ev.items() if k != "details"} for ev in segments[index].violations)
            segments[index] = replace(segments[index], violations=plain)
            data = self._json(segments, True)
            if len(json.dumps(data)) <= MAX_CARRY_BYTES:
                break
        logger.warning("Carry of session %s trimmed: the details of older events were dropped", self.session_id)
        return data

    def _json(self, segments: dict[int, SegmentRecord], trimmed: bool) -> dict[str, Any]:
        return {"schema": CARRY_SCHEMA_ID, "session_id": self.session_id, "modality": self.modality,
                "seen": sorted(segments), "last_index": self.last_index,
                "segments": [segments[i].to_json() for i in sorted(segments)],
                "handler": [{"from_index": i, "state": self.handler[i]} for i in sorted(self.handler)],
                "trimmed": trimmed}


def _small(state: dict[str, Any]) -> bool:
    size = len(json.dumps(state))
    if size > MAX_HANDLER_STATE_BYTES:
        logger.warning("Handler carry of %d bytes dropped (at most %d)", size, MAX_HANDLER_STATE_BYTES)
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
