"""Where the session description sits in an ``xqueue_body``, whichever server sent it.

Three shapes arrive (README "Servers"):

- our object itself, ``{"session_id": ..., ...}`` (the platform submits it directly);
- the LMS envelope of the legacy openedx/xqueue: ``{"grader_payload", "student_info",
  "student_response"}``, where the problem's ``grader_payload`` (JSON text) holds the
  description, or part of it;
- the envelope edx-submissions builds: ``grader_payload`` is only ``{"grader": "<name>"}``
  and the LMS's answer, ``student_response``, holds the description (JSON text or object).

:func:`find_description` merges the two parts of an envelope: keys of ``grader_payload``
(problem-level settings such as ``options``), then those of ``student_response`` (this
session), which win. ``grader_payload.grader`` is returned apart. An envelope with a
``session_id`` in neither part is a :class:`SubmissionError` that says what each part held.
"""

from __future__ import annotations

import json
from typing import Any

from ml_service.core import bounded
from ml_service.core.errors import SubmissionError

__all__ = ["find_description"]

_ENVELOPE_KEYS = ("grader_payload", "student_response", "student_info")
_EXCERPT = 80


def find_description(body: Any) -> tuple[Any, str | None]:
    """The description to validate, and the ``grader`` named by ``grader_payload`` (or None)."""
    if not isinstance(body, dict) or "session_id" in body or not any(k in body for k in _ENVELOPE_KEYS):
        return body, None
    payload, payload_note = _decode(body.get("grader_payload"), "grader_payload")
    response, response_note = _decode(body.get("student_response"), "student_response")
    grader = payload.get("grader") if isinstance(payload, dict) else None
    grader = grader if isinstance(grader, str) and grader else None
    merged = {k: v for k, v in payload.items() if k != "grader"} if isinstance(payload, dict) else {}
    if isinstance(response, dict):
        merged.update(response)
    if "session_id" not in merged:
        raise SubmissionError("xqueue_body holds no session description (a JSON object with session_id) in "
                              f"grader_payload or student_response: {payload_note}; {response_note}")
    return merged, grader


def _decode(value: Any, name: str) -> tuple[Any, str]:
    """A part decoded from JSON text when it is text, and a note on what it held."""
    if value is None or value == "":
        return None, f"{name} is empty"
    if isinstance(value, str):
        try:
            value = bounded.loads(value, name)
        except bounded.JSONLimitError as exc:
            raise SubmissionError(str(exc)) from exc
        except ValueError:
            return None, f"{name} is not JSON ({_excerpt(value)})"
    if not isinstance(value, dict):
        return None, f"{name} is JSON but not an object ({_excerpt(json.dumps(value))})"
    if "session_id" not in value:
        return value, f"{name} has no session_id ({_excerpt(json.dumps(value, sort_keys=True))})"
    return value, f"{name} has a session_id"


def _excerpt(text: str) -> str:
    """At most a short, printable start of ``text``, quoted."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text[:_EXCERPT])
    return repr(clean + ("..." if len(text) > _EXCERPT else ""))
