"""One submission's analysis: body -> media -> handler -> a validated result.

:func:`analyse` never raises for a problem of the submission or the handler: every such
failure becomes an error result with its own ``error_code`` and a clear message, so the
worker always has an answer to send.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ml_service.core.bounded import clamp
from ml_service.core.errors import HandlerError, MediaError, Retry, SubmissionError
from ml_service.core.handlers import Handler, run_handler
from ml_service.core.live import Alert, LiveJob, segment_spec
from ml_service.core.media import MediaFetcher, job_dir
from ml_service.core.media_checks import MediaLimits, check_media, with_notes
from ml_service.core.results import ErrorCode, error_result
from ml_service.core.submission import Pulled, SessionSpec, parse_body

__all__ = ["Outcome", "analyse", "handler_input"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What the worker sends back for one submission."""

    result: dict[str, Any]
    msg: str
    session_id: str | None
    note: str | None = None  # reported in the final status event (e.g. an answer not stored)

    @property
    def ok(self) -> bool:
        return self.result["error_code"] == 0


def analyse(
    pulled: Pulled,
    handler: Handler,
    fetcher: MediaFetcher,
    work_root: Path,
    modality: str,
    clock: Callable[[], float] = time.monotonic,
    retry_wait: Callable[[float], bool] = threading.Event().wait,
    max_retries: int = 2,
    limits: MediaLimits = MediaLimits(),
    alert: Alert | None = None,
) -> Outcome:
    """Analyse one pulled submission; always returns an :class:`Outcome`.

    A handler raising :class:`Retry` is called again after the delay it asks for, at most
    ``max_retries`` times; ``retry_wait`` returning True (shutdown) ends the retries. The
    downloaded media are checked against ``limits`` first (:mod:`ml_service.core.media_checks`).
    A segment of a live session goes through :class:`~ml_service.core.live.LiveJob`, which calls
    ``alert`` with each new violation's ``violation_detected`` event data.
    """
    started = clock()
    spec: SessionSpec | None = None
    live: LiveJob | None = None
    try:
        spec = parse_body(pulled)
        live = _live_job(spec, modality, pulled.submission_id)
        if live is not None and live.known is not None:
            return _outcome(pulled, spec, work_root, *live.answer_known())
        with job_dir(work_root, pulled.submission_id) as folder:
            submission = handler_input(pulled, spec, fetcher, folder, modality)
            if live is not None:
                submission["segment"] = live.handler_view()
            notes = check_media(submission, limits)
            result, msg = with_notes(*_run_with_retries(handler, submission, retry_wait, max_retries), notes)
    except MediaError as exc:
        result, msg = _failed(modality, ErrorCode.MEDIA_DOWNLOAD, str(exc), clock() - started)
    except SubmissionError as exc:
        result, msg = _failed(modality, ErrorCode.BAD_SUBMISSION, str(exc), clock() - started)
    except HandlerError as exc:
        result, msg = _failed(modality, ErrorCode(exc.error_code), str(exc), clock() - started)
    if live is not None and spec is not None:
        result, msg = live.finish(result, msg, spec.recordings, alert)
    return _outcome(pulled, spec, work_root, result, msg)


def _outcome(pulled: Pulled, spec: SessionSpec | None, work_root: Path, result: dict[str, Any],
             msg: str) -> Outcome:
    session_id = spec.session_id if spec else None
    hide = _path_hider(work_root)
    result = json.loads(hide(json.dumps(result)))
    msg = clamp(hide(msg))
    result = {**result, "submission_id": pulled.submission_id, "session_id": session_id}
    if "msg" in result:
        result["msg"] = clamp(result["msg"])
    return Outcome(result, msg, session_id)


def _live_job(spec: SessionSpec, modality: str, submission_id: int) -> LiveJob | None:
    seg = segment_spec(spec.segment)
    return LiveJob(seg, spec.session_id, spec.modality or modality, submission_id) if seg else None


def _path_hider(work_root: Path) -> Callable[[str], str]:
    """Turns our absolute paths into what the LMS may see: a file inside a job folder becomes
    its path relative to that folder; the folder and the work dir become words."""
    roots = sorted({str(work_root).rstrip("/"), str(work_root.resolve()).rstrip("/")}, key=len, reverse=True)
    root = "(?:" + "|".join(re.escape(r) for r in roots) + ")"
    inside, folder = re.compile(root + r"/job-[^/\s\"'\\]+/"), re.compile(root + r"/job-[^/\s\"'\\]+")
    bare = re.compile(root + r"(?![\w.-])")

    def hide(text: str) -> str:
        return bare.sub("the work dir", folder.sub("the job folder", inside.sub("", text)))

    return hide


def _run_with_retries(handler: Handler, submission: dict[str, Any],
                      retry_wait: Callable[[float], bool], max_retries: int) -> tuple[dict[str, Any], str]:
    for attempt in range(max_retries + 1):
        try:
            return run_handler(handler, submission)
        except Retry as exc:
            logger.info("Handler asked to retry submission %s in %.0f s: %s",
                        submission["submission_id"], exc.delay_s, exc)
            if attempt == max_retries or retry_wait(exc.delay_s):
                raise HandlerError(f"handler asked for a retry {attempt + 1} time(s): {exc}",
                                   ErrorCode.HANDLER_RAISED) from exc
    raise AssertionError("unreachable")


def _failed(modality: str, code: ErrorCode, msg: str, elapsed: float) -> tuple[dict[str, Any], str]:
    msg = clamp(msg)
    logger.warning("Analysis failed (%s): %s", code.name, msg)
    return error_result(modality, code, msg, elapsed), msg


def handler_input(
    pulled: Pulled, spec: SessionSpec, fetcher: MediaFetcher, folder: Path, modality: str
) -> dict[str, Any]:
    """Download the media and build the JSON-serialisable dict the handler receives."""

    def fetch(name: str | None) -> dict[str, Any] | None:
        if name is None:
            return None
        path = fetcher.fetch(name, pulled.files.get(name) or spec.media_urls[name], folder)
        return {"name": name, "path": str(path), "size": path.stat().st_size}

    recordings = [fetch(name) for name in spec.recordings]
    return {
        "submission_id": pulled.submission_id,
        "session_id": spec.session_id,
        "modality": spec.modality or modality,
        "options": spec.options,
        "grader": spec.grader,
        "recordings": recordings,
        "reference_photo": fetch(spec.reference_photo),
        "reference_voice": fetch(spec.reference_voice),
        "work_dir": str(folder),
    }
