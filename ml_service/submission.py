"""Decoding what get_submission returns, and reading the platform's submission body.

The XQueue content is three layers of JSON (see XQUEUE.md §3): a string holding an object
whose ``xqueue_header``, ``xqueue_body`` and ``xqueue_files`` are themselves JSON strings.
:func:`decode_pull` peels the envelope (a reply without a submission id cannot be answered
at all: a :class:`ProtocolError`); :func:`parse_body` reads our body format (a body we can
address but not analyse is a :class:`SubmissionError`, answered with an error result).
Submission keys are opaque: md5 hex on openedx/xqueue, a UUID on edx-submissions; the
header goes back verbatim, so any key the server handed out is echoed as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from ml_service.errors import ProtocolError, SubmissionError
from ml_service.lms_body import find_description

__all__ = ["Pulled", "SessionSpec", "decode_pull", "parse_body"]

_MODALITY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Pulled:
    """One pulled submission: the header exactly as received, its id/key, body and files."""

    header: str
    submission_id: int
    submission_key: str
    body: str
    files: dict[str, str] = field(default_factory=dict)
    files_problem: str | None = None
    header_problem: str | None = None


@dataclass(frozen=True)
class SessionSpec:
    """The analysis request read from the body."""

    session_id: str
    modality: str | None
    options: dict[str, Any]
    reference_photo: str | None
    reference_voice: str | None
    recordings: list[str]
    grader: str | None = None


def decode_pull(content: Any) -> Pulled:
    """Decode a successful get_submission ``content`` into a :class:`Pulled`."""
    outer = _loads(content, "get_submission content") if isinstance(content, str) else content
    if not isinstance(outer, dict):
        raise ProtocolError("get_submission content is not a JSON object")
    header_text = outer.get("xqueue_header")
    if not isinstance(header_text, str):
        raise ProtocolError("get_submission content has no xqueue_header string")
    header = _loads(header_text, "xqueue_header")
    if not isinstance(header, dict):
        raise ProtocolError("xqueue_header is not a JSON object")
    sub_id, key = header.get("submission_id"), header.get("submission_key")
    if not _is_id(sub_id):
        raise ProtocolError(f"xqueue_header has no integer submission_id: {sub_id!r}")
    key_problem = None if isinstance(key, str) and key else (
        f"xqueue_header has no submission_key string (got {type(key).__name__}); the header is sent back as it came")
    body = outer.get("xqueue_body")
    files, problem = _decode_files(outer.get("xqueue_files", "{}"))
    return Pulled(
        header=header_text,
        submission_id=int(sub_id),
        submission_key=key if isinstance(key, str) else "",
        body=body if isinstance(body, str) else json.dumps(body),
        files=files,
        files_problem=problem,
        header_problem=key_problem,
    )


def _is_id(value: Any) -> bool:
    """A non-negative int, or a string of ASCII digits (not bool, not "²")."""
    if type(value) is int:
        return value >= 0
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _decode_files(raw: Any) -> tuple[dict[str, str], str | None]:
    if raw in (None, ""):
        return {}, None
    try:
        files = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}, "xqueue_files is not valid JSON"
    if files in (None, ""):
        return {}, None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        return {}, "xqueue_files is not an object of filename -> URL strings"
    return files, None


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"{what} is not valid JSON") from exc


@lru_cache(maxsize=None)
def _schema() -> dict[str, Any]:
    text = resources.files("ml_service.schemas").joinpath("submission.schema.json").read_text("utf-8")
    return json.loads(text)


def parse_body(pulled: Pulled) -> SessionSpec:
    """Read our body format, direct or in an LMS envelope (see :mod:`ml_service.lms_body`)."""
    if pulled.header_problem or pulled.files_problem:
        raise SubmissionError(pulled.header_problem or pulled.files_problem or "")
    try:
        body = json.loads(pulled.body)
    except ValueError as exc:
        raise SubmissionError("xqueue_body is not valid JSON") from exc
    body, grader = find_description(body)
    problems = [
        f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}"
        for e in jsonschema.Draft202012Validator(_schema()).iter_errors(body)
    ]
    if problems:
        raise SubmissionError("xqueue_body does not match the submission schema: " + "; ".join(problems))
    refs = {body.get("reference_photo"), body.get("reference_voice")} - {None}
    missing = sorted(name for name in refs | set(body.get("recordings", [])) if name not in pulled.files)
    if missing:
        raise SubmissionError(f"xqueue_body names files that xqueue_files lacks: {', '.join(missing)}")
    recordings = body.get("recordings") or sorted(n for n in pulled.files if n not in refs)
    return SessionSpec(
        session_id=body["session_id"],
        modality=body.get("modality") or (grader if grader and _MODALITY_RE.match(grader) else None),
        options=body.get("options", {}),
        reference_photo=body.get("reference_photo"),
        reference_voice=body.get("reference_voice"),
        recordings=list(recordings),
        grader=grader,
    )

