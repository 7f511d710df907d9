"""``process``: analyse one session's keystroke log, optionally against an enrolment log.

The submission's recordings are the session log and, optionally, the candidate's enrolment
log: the recording named by the option ``enrolment_recording``, or else the one whose name
ends in ``enrolment.json`` (or ``enrollment.json``). Exactly one session log is expected.

A log that cannot be read gives an error result (``MEDIA_UNREADABLE``); bad options or a
wrong set of recordings give ``BAD_SUBMISSION``. Both name the file or option at fault.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from handlers.keystrokes.change import typist_change
from handlers.keystrokes.checks import automation, idle, paste_bursts
from handlers.keystrokes.events import KeyLog, LogError, read_log
from handlers.keystrokes.live import baseline_log, carry_out, edge_idle, join_gaps
from handlers.keystrokes.options import Options, OptionsError
from handlers.keystrokes.rhythm import Timing, build_profile, timing
from ml_service.handler_api import ErrorCode, build_result, error_result

__all__ = ["MODALITY", "analyse", "process"]

MODALITY = "keystrokes"
_ENROLMENT_SUFFIXES = ("enrolment.json", "enrollment.json")


class _RecordingsError(ValueError):
    """The submission's recordings are not one session log plus at most one enrolment log."""


def process(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Analyse the submission's keystroke log; return a schema-valid result and a summary."""
    started = time.monotonic()
    modality = submission.get("modality") or MODALITY
    try:
        opts = Options.from_mapping(submission.get("options"))
        session_item, enrolment_item = _pick(submission.get("recordings") or [], opts)
        vocab: dict[str, int] = {}
        session = _read(session_item, vocab, opts)
        enrolment = _read(enrolment_item, vocab, opts) if enrolment_item else None
        segment = submission.get("segment")  # a live session's segment: see live.py
        enrolment = enrolment or baseline_log(segment, vocab, opts)
    except (OptionsError, _RecordingsError) as exc:
        return _failed(modality, ErrorCode.BAD_SUBMISSION, str(exc), started)
    except LogError as exc:
        return _failed(modality, ErrorCode.MEDIA_UNREADABLE, str(exc), started)
    violations, notes = analyse(session, enrolment, opts, len(vocab))
    if segment:
        violations = join_gaps(violations, opts) + (edge_idle(session, opts, segment) if "idle" in opts.checks else [])
    media = {
        "duration_s": round(session.duration_s, 3),
        "files": [_file_facts("recording", session)]
        + ([_file_facts("enrolment", enrolment)] if enrolment else []),
        "checks": notes,
    }
    result = build_result(modality, violations, media, time.monotonic() - started)
    if segment:
        result["carry"] = carry_out(segment, session, vocab, opts)
    return result, _summary(session, violations)


def analyse(session: KeyLog, enrolment: KeyLog | None, opts: Options,
            n_keys: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every enabled check on the session: the violations and a note per check."""
    tm = timing(session, n_keys)
    found: list[dict[str, Any]] = []
    if "paste_burst" in opts.checks:
        found += paste_bursts(session, opts)
    if "idle" in opts.checks:
        found += idle(session, opts)
    scripted, covered = automation(tm, opts)  # also what typist_change must not score
    if "automation" in opts.checks:
        found += scripted
    notes: dict[str, Any] = {name: {"evaluated": True} for name in opts.checks}
    if "typist_change" in opts.checks:
        changes, notes["typist_change"] = _typist(tm, enrolment, opts, n_keys, covered)
        found += changes
    return found, notes


def _typist(tm: Timing, enrolment: KeyLog | None, opts: Options, n_keys: int,
            covered: np.ndarray) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Against the enrolment profile, or else the session's first ``typist_baseline_keys``
    keystrokes (those a script typed left out); the note says which and from when."""
    need = opts.typist_baseline_keys
    note: dict[str, Any] = {}
    if enrolment is not None and enrolment.keystrokes >= need:
        profile, start = build_profile(timing(enrolment, n_keys), "enrolment"), 0
    else:
        if enrolment is not None:
            note["enrolment_ignored"] = f"{enrolment.keystrokes} keystrokes, fewer than typist_baseline_keys ({need})"
        human = np.flatnonzero(~covered)
        start = int(human[need - 1]) + 1 if len(human) >= need else len(tm.t)
        profile = build_profile(tm, "session_start", stop=start, exclude=covered)
    note |= {"baseline": profile.source, "baseline_keystrokes": profile.keystrokes}
    if start >= len(tm.t) or not profile.usable:
        return [], {**note, "evaluated": False,
                    "reason": f"too few keystrokes for a rhythm profile (typist_baseline_keys={need})"}
    note |= {"evaluated": True, "from_s": round(float(tm.t[start]), 3)}
    return typist_change(tm, profile, opts, start, covered), note


def _pick(recordings: list[Any], opts: Options) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    for item in recordings:
        if not isinstance(item, Mapping) or not item.get("path"):
            raise _RecordingsError(f"recording entry has no local path: {item!r}")
    names = [str(item.get("name") or Path(item["path"]).name) for item in recordings]
    if opts.enrolment_recording is not None:
        is_enrolment = [name == opts.enrolment_recording for name in names]
        if not any(is_enrolment):
            raise _RecordingsError(f"enrolment_recording {opts.enrolment_recording!r} is not among {names}")
    else:
        is_enrolment = [name.lower().endswith(_ENROLMENT_SUFFIXES) for name in names]
    sessions = [r for r, e in zip(recordings, is_enrolment) if not e]
    enrolments = [r for r, e in zip(recordings, is_enrolment) if e]
    if len(sessions) != 1 or len(enrolments) > 1:
        raise _RecordingsError(
            f"expected one keystroke log and at most one enrolment log, got {names}"
        )
    return sessions[0], (enrolments[0] if enrolments else None)


def _read(item: Mapping[str, Any], vocab: dict[str, int], opts: Options) -> KeyLog:
    path = Path(item["path"])
    return read_log(path, str(item.get("name") or path.name), vocab, opts.max_log_bytes)


def _file_facts(role: str, log: KeyLog) -> dict[str, Any]:
    return {"role": role, "name": log.name, "duration_s": round(log.duration_s, 3), **log.counts}


def _failed(modality: str, code: ErrorCode, msg: str, started: float) -> tuple[dict[str, Any], str]:
    return error_result(modality, code, msg, time.monotonic() - started), msg


def _summary(session: KeyLog, violations: list[dict[str, Any]]) -> str:
    kinds = sorted({v["type"] for v in violations})
    text = f"analysed {session.keystrokes} keystroke(s) over {session.duration_s:.1f} s"
    return text + (f"; found {', '.join(kinds)}" if kinds else "; nothing suspicious")
