"""The handler API: the only part of ml_service a handler imports (version ``HANDLER_API_VERSION``).

A handler is ``process(submission: HandlerInput) -> (result, msg)``. It builds its result with
:func:`build_result` (``stats`` and ``score`` are derived), raises :class:`SubmissionError` for
input it cannot use (answered with error 4) or :class:`Retry` to be called again later, and may
use :func:`probe` to read a media file's facts and :func:`die_with_parent` in the child
processes it starts. Everything else in ml_service may change between releases; this module
changes only with a new ``HANDLER_API_VERSION``. See ``docs/writing-a-handler.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from ml_service.core.errors import MediaError, Retry, SubmissionError
from ml_service.core.isolation import die_with_parent
from ml_service.core.media_probe import probe, sha256_file
from ml_service.core.results import RESULT_SCHEMA_ID, ErrorCode, build_result, error_result, validate_result

__all__ = [
    "HANDLER_API_VERSION",
    "RESULT_SCHEMA_ID",
    "ErrorCode",
    "Handler",
    "HandlerInput",
    "MediaError",
    "Recording",
    "Retry",
    "SubmissionError",
    "build_result",
    "die_with_parent",
    "error_result",
    "probe",
    "sha256_file",
    "validate_result",
]

HANDLER_API_VERSION = "1"


class Recording(TypedDict):
    """A downloaded file: the name the submission gave it, its local path and size in bytes."""

    name: str
    path: str
    size: int


class HandlerInput(TypedDict, total=False):
    """The dict ``process()`` receives (``docs/contracts.md`` §2); ``recordings`` keep the
    submission's order, references are None when absent, ``work_dir`` is the job's own folder
    (removed after the answer)."""

    submission_id: int
    session_id: str
    modality: str
    options: dict[str, Any]
    grader: str | None
    recordings: list[Recording]
    reference_photo: Recording | None
    reference_voice: Recording | None
    work_dir: str


Handler = Callable[[HandlerInput], tuple[dict[str, Any], str]]
