"""``process``: analyse a session's screen recordings for the five screencast checks.

Entry point: ``ML_ANALYZER=handlers.screencast.screencast.process``. Recordings are analysed
in the order given, as one session: the second file's times follow the first's. Bad options
give an error result with ``error_code`` 4 (bad submission), a recording ffmpeg cannot decode
one with ``error_code`` 8 (media unreadable); a missing tesseract raises (error 1), saying so.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from handlers.screencast.analyse import Unreadable, analyse_recording
from handlers.screencast.matching import Matcher
from handlers.screencast.ocr import Ocr
from handlers.screencast.options import Options, OptionsError
from ml_service.handler_api import ErrorCode, build_result, error_result

__all__ = ["CHECKS", "MODALITY", "process"]

MODALITY = "screencast"
CHECKS = ("window_switch", "forbidden_content", "blank_screen", "frozen_screen", "resolution_change")

logger = logging.getLogger(__name__)


def process(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Analyse every recording of the submission; return a schema-valid result and a summary."""
    started = time.monotonic()
    modality = submission.get("modality") or MODALITY
    try:
        opts = Options.from_submission(submission.get("options"))
    except OptionsError as exc:
        return _failed(modality, ErrorCode.BAD_SUBMISSION, str(exc), started)
    recordings = [r for r in submission.get("recordings") or [] if isinstance(r, dict) and r.get("path")]
    if not recordings:
        return _failed(modality, ErrorCode.BAD_SUBMISSION, "no screen recording in the submission", started)
    ocr = Ocr(languages=opts.languages) if opts.ocr else None
    try:
        return _analyse(modality, recordings, opts, ocr, started, submission.get("segment"))
    finally:
        if ocr is not None:
            ocr.close()


def _analyse(modality: str, recordings: list[dict[str, Any]], opts: Options, ocr: Ocr | None,
             started: float, segment: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    matcher = Matcher(opts.deny_list, opts.allow_list)
    violations: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    offset = 0.0
    carry = (segment or {}).get("carry")  # a live session's segment: the session's usual screen
    for item in recordings:
        name = item.get("name") or Path(item["path"]).name
        try:
            found, facts = analyse_recording(Path(item["path"]), opts, ocr, matcher, carry if segment else None)
            carry = facts.pop("carry")
        except Unreadable as exc:
            return _failed(modality, ErrorCode.MEDIA_UNREADABLE, f"recording {name} is unreadable: {exc}", started)
        violations += [_shifted(v, offset) for v in found]
        files.append({**facts, "name": name, "offset_s": round(offset, 3)})
        offset += facts["analysed_s"]
        logger.info("screencast: %s analysed in %.1f s, %d violation(s), %d OCR call(s)",
                    name, facts["analysis_s"], len(found), facts["ocr_calls"])
    media = {"duration_s": round(offset, 3), "frames_analysed": sum(f["frames_analysed"] for f in files),
             "files": files, "checks": list(CHECKS if opts.ocr else CHECKS[2:]), "options": opts.as_dict()}
    result = build_result(modality, violations, media, time.monotonic() - started)
    if segment:
        result["carry"] = carry
    return result, _summary(result)


def _failed(modality: str, code: ErrorCode, msg: str, started: float) -> tuple[dict[str, Any], str]:
    logger.warning("screencast: %s", msg)
    return error_result(modality, code, msg, time.monotonic() - started), msg


def _shifted(violation: dict[str, Any], offset: float) -> dict[str, Any]:
    if not offset:
        return violation
    return {**violation, "start_s": round(violation["start_s"] + offset, 3),
            "end_s": round(violation["end_s"] + offset, 3)}


def _summary(result: dict[str, Any]) -> str:
    counts = {t: s["count"] for t, s in result["stats"].items()}
    found = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no violations"
    return f"screen recording of {result['media']['duration_s']:.0f} s analysed: {found}"
