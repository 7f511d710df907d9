"""``process``: probe every recording and reference file of a submission, report no violations.

The result's ``media`` is ``{"duration_s": longest readable recording or None, "files": [...]}``
where each file is ``{"role", "name"}`` plus what :func:`ml_service.handler_api.probe`
reports (size, sha256, readability, container, duration, streams). Unreadable media is
listed with ``readable: False`` and a reason; it does not fail the analysis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_service.handler_api import SubmissionError, build_result, probe

__all__ = ["MODALITY", "process"]

MODALITY = "debug"
_REFERENCE_ROLES = ("reference_photo", "reference_voice")

logger = logging.getLogger(__name__)


def process(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Inspect the submission's media; return a schema-valid result and a one-line summary."""
    started = time.monotonic()
    files = [_inspect(role, item) for role, item in _media_items(submission)]
    media = {"duration_s": _session_duration(files), "files": files}
    modality = submission.get("modality") or MODALITY  # the queue it serves, e.g. "screencast"
    result = build_result(modality, [], media, time.monotonic() - started)
    return result, _summary(files)


def _media_items(submission: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for item in submission.get("recordings") or []:
        yield "recording", item
    for role in _REFERENCE_ROLES:
        if submission.get(role):
            yield role, submission[role]


def _inspect(role: str, item: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not item.get("path"):
        raise SubmissionError(f"{role} entry has no local path: {item!r}")
    path = Path(item["path"])
    facts = probe(path)
    logger.debug("debug handler probed %s %s: readable=%s", role, path.name, facts["readable"])
    return {"role": role, "name": item.get("name") or path.name, **facts}


def _session_duration(files: list[dict[str, Any]]) -> float | None:
    """The session's length: the longest readable recording (references do not count)."""
    durations = [
        f["duration_s"]
        for f in files
        if f["role"] == "recording" and f["readable"] and f.get("duration_s") is not None
    ]
    return max(durations, default=None)


def _summary(files: list[dict[str, Any]]) -> str:
    seconds = sum(f.get("duration_s") or 0.0 for f in files if f["readable"])
    text = f"inspected {len(files)} file(s), {seconds:.1f} s of media"
    unreadable = [f["name"] for f in files if not f["readable"]]
    if unreadable:
        text += f"; {len(unreadable)} unreadable: {', '.join(unreadable)}"
    return text
