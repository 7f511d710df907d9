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

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

from ml_service.core import bounded
from ml_service.core.bounded import clamp, excerpt
from ml_service.core.errors import ProtocolError, SubmissionError, UnanswerableError
from ml_service.core.lms_body import find_description

__all__ = ["Pulled", "SessionSpec", "decode_pull", "parse_body"]

_MODALITY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEY_MAX_CHARS = 1024  # keys are opaque (hex on openedx/xqueue, a UUID on edx-submissions), but bounded
_MAX_ID = 2**63  # SQLite's INTEGER, the journal's key
REPLY_MAX_CHARS = 8 * 1024 * 1024  # a get_submission reply: the body escaped up to three times, plus files


@dataclass(frozen=True)
class Pulled:
    """One pulled submission: the header exactly as received, its id/key, body and files."""

    header: str
    submission_id: int
    submission_key: str
    body: str
    files: dict[str, str] = field(default_factory=dict)
    files_problem: str | None = None


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
    segment: dict[str, Any] | None = None  # one segment of a live session (ml_service.core.live)
    media_urls: dict[str, str] = field(default_factory=dict)  # more files by URL (name -> URL)


def decode_pull(content: Any) -> Pulled:
    """Decode a successful get_submission ``content`` into a :class:`Pulled`.

    Content we cannot address an answer to raises :class:`UnanswerableError`."""
    try:
        return _decode_pull(content)
    except ProtocolError as exc:
        raise UnanswerableError(str(exc), _fingerprint(content)) from exc


def _fingerprint(content: Any) -> str:
    """What stays the same when XQueue re-offers a submission: all but the key."""
    try:
        outer = bounded.loads(content, "content", REPLY_MAX_CHARS) if isinstance(content, str) else content
        header = bounded.loads(outer["xqueue_header"], "header")
        basis = [{k: v for k, v in header.items() if k != "submission_key"} if isinstance(header, dict) else header,
                 outer.get("xqueue_body"), outer.get("xqueue_files")]
    except Exception:  # noqa: BLE001 - anything unreadable is identified by its whole text
        basis = content
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=repr).encode()).hexdigest()[:16]


def _decode_pull(content: Any) -> Pulled:
    outer = _loads(content, "get_submission content", REPLY_MAX_CHARS) if isinstance(content, str) else content
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
        raise ProtocolError(f"xqueue_header has no integer submission_id: {excerpt(sub_id)}")
    if not isinstance(key, str) or not key or len(key) > _KEY_MAX_CHARS:
        raise ProtocolError(f"xqueue_header has no usable submission_key (got {type(key).__name__}"
                            f"{f' of {len(key)} characters' if isinstance(key, str) else ''})")
    body = outer.get("xqueue_body")
    files, problem = _decode_files(outer.get("xqueue_files", "{}"))
    return Pulled(
        header=header_text,
        submission_id=int(sub_id),
        submission_key=key,
        body=body if isinstance(body, str) else json.dumps(body),
        files=files,
        files_problem=problem,
    )


def _is_id(value: Any) -> bool:
    """An int in 0..2**63-1 (what SQLite stores), or such a string of ASCII digits (not bool, not "²")."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    return type(value) is int and 0 <= value < _MAX_ID


def _decode_files(raw: Any) -> tuple[dict[str, str], str | None]:
    if raw in (None, ""):
        return {}, None
    try:
        files = bounded.loads(raw, "xqueue_files") if isinstance(raw, str) else raw
    except bounded.JSONLimitError as exc:
        return {}, str(exc)
    except ValueError:
        return {}, "xqueue_files is not valid JSON"
    if files in (None, ""):
        return {}, None
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        return {}, "xqueue_files is not an object of filename -> URL strings"
    return files, None


def _loads(text: str, what: str, max_chars: int = bounded.JSON_MAX_CHARS) -> Any:
    try:
        return bounded.loads(text, what, max_chars)
    except bounded.JSONLimitError as exc:
        raise ProtocolError(str(exc)) from exc
    except ValueError as exc:
        raise ProtocolError(f"{what} is not valid JSON") from exc


@lru_cache(maxsize=None)
def _schema() -> dict[str, Any]:
    text = resources.files("ml_service.core.schemas").joinpath("submission.schema.json").read_text("utf-8")
    return json.loads(text)


def parse_body(pulled: Pulled) -> SessionSpec:
    """Read our body format, direct or in an LMS envelope (see :mod:`ml_service.core.lms_body`)."""
    if pulled.files_problem:
        raise SubmissionError(pulled.files_problem)
    body, grader = find_description(_body_json(pulled.body, "xqueue_body"))
    errors = list(itertools.islice(jsonschema.Draft202012Validator(_schema()).iter_errors(body), 6))
    if errors:
        problems = [_problem(e) for e in errors[:5]] + (["..."] if len(errors) > 5 else [])
        raise SubmissionError("xqueue_body does not match the submission schema: " + "; ".join(problems))
    refs = {body.get("reference_photo"), body.get("reference_voice")} - {None}
    urls = body.get("media_urls", {})
    if set(urls) & set(pulled.files):
        both = sorted(set(urls) & set(pulled.files))
        raise SubmissionError("media_urls repeats names of xqueue_files: "
                              + ", ".join(excerpt(name) for name in both[:5]) + (", ..." if len(both) > 5 else ""))
    missing = sorted(name for name in refs | set(body.get("recordings", [])) if name not in pulled.files | urls)
    if missing:
        names = ", ".join(excerpt(name) for name in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise SubmissionError(f"xqueue_body names files that xqueue_files lacks: {names}")
    recordings = body.get("recordings") or sorted(n for n in pulled.files if n not in refs)
    return SessionSpec(
        session_id=body["session_id"],
        modality=body.get("modality") or (grader if grader and _MODALITY_RE.match(grader) else None),
        options=body.get("options", {}),
        reference_photo=body.get("reference_photo"),
        reference_voice=body.get("reference_voice"),
        recordings=list(recordings),
        grader=grader,
        segment=body.get("segment"),
        media_urls=dict(urls),
    )



def _problem(error: jsonschema.ValidationError) -> str:
    """One schema violation, quoting at most an excerpt of the offending value."""
    where = "/".join(excerpt(p, 40) if isinstance(p, str) else str(p) for p in error.path) or "body"
    if error.validator == "type":
        return f"{where}: {excerpt(error.instance)} is not of type {error.validator_value!r}"
    if error.validator in ("maxLength", "minLength", "pattern", "enum", "const", "format"):
        return f"{where}: {excerpt(error.instance)} breaks {error.validator} {excerpt(error.validator_value, 40)}"
    return f"{where}: {clamp(error.message, 200)}"


def _body_json(text: str, what: str) -> Any:
    """The body's JSON within :mod:`ml_service.core.bounded`'s size and depth limits."""
    try:
        return bounded.loads(text, what)
    except bounded.JSONLimitError as exc:
        raise SubmissionError(str(exc)) from exc
    except ValueError as exc:
        raise SubmissionError(f"{what} is not valid JSON") from exc
