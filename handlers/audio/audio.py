"""``process``: the audio handler's entry point (``ML_ANALYZER=handlers.audio.audio.process``).

Decodes the recordings (consecutive parts of one session, joined in the order given, each
padded to a whole 32 ms frame; a single recording is analysed while ffmpeg still decodes it)
and the optional enrolment clip (``reference_voice``), runs
:func:`handlers.audio.analysis.analyse` and builds the result. A recording that cannot be decoded gives an error result with
``MEDIA_UNREADABLE``; an unreadable or speechless enrolment clip only switches the voice
check to "dominant voice" mode, and ``media.reference_voice`` says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from handlers.audio.analysis import analyse, enrolment_embedding
from handlers.audio.decode import SAMPLE_RATE, Stream, Unreadable, decode
from handlers.audio.frames import FRAME
from handlers.audio.live import carried_foreign, carried_voice, carry_out, join_gaps
from handlers.audio.options import Options
from ml_service.handler_api import ErrorCode, SubmissionError, build_result, error_result

__all__ = ["MODALITY", "process"]

MODALITY = "audio"

logger = logging.getLogger(__name__)


def process(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Analyse the submission's audio; return a schema-valid result and a one-line summary."""
    started = time.monotonic()
    modality = submission.get("modality") or MODALITY
    opts = Options.from_mapping(submission.get("options"))
    paths = [_path("recording", item) for item in submission.get("recordings") or []]
    if not paths:
        raise SubmissionError("the audio handler needs at least one recording")
    reference, reference_facts = _reference(submission.get("reference_voice"), opts)
    segment = submission.get("segment")  # a live session's segment: see live.py
    session, carried = carried_voice(segment) if reference is None else (None, {})
    reference_facts = carried or reference_facts
    try:
        source, files = (Stream(paths[0]), None) if len(paths) == 1 else _decode_all(paths)
        audio, violations, facts = analyse(source, opts, reference, session, carried_foreign(segment))
    except Unreadable as exc:
        logger.warning("audio handler: session %s: %s", submission.get("session_id"), exc)
        return error_result(modality, ErrorCode.MEDIA_UNREADABLE, str(exc), time.monotonic() - started), str(exc)
    first_voice, foreign = facts.pop("_first_voice", None), facts.pop("_foreign_voices", [])
    files = files or _file_entry(paths[0], audio, 0)
    duration = round(len(audio) / SAMPLE_RATE, 3)
    media = {"duration_s": duration, "samples_analysed": len(audio), "sample_rate": SAMPLE_RATE,
             "files": files, "reference_voice": reference_facts,
             "speech_share": round(facts["speech_s"] / duration, 4) if duration else 0.0, **facts}
    result = build_result(modality, join_gaps(violations, opts) if segment else violations, media,
                          time.monotonic() - started)
    if segment:
        result["carry"] = carry_out(segment, reference, first_voice, foreign, opts.speaker_merge_similarity)
    return result, _summary(result, duration)


def _path(role: str, item: Any) -> Path:
    if not isinstance(item, Mapping) or not item.get("path"):
        raise SubmissionError(f"{role} entry has no local path: {item!r}")
    return Path(item["path"])


def _decode_all(paths: list[Path]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Several recordings end to end, each padded to a whole 32 ms frame, and where each starts."""
    parts, files, offset = [], [], 0
    for path in paths:
        part = decode(path)
        files += _file_entry(path, part, offset)
        parts.append(np.pad(part, (0, -len(part) % FRAME)))
        offset += len(parts[-1])
    return np.concatenate(parts), files


def _file_entry(path: Path, audio: np.ndarray, offset: int) -> list[dict[str, Any]]:
    return [{"name": path.name, "offset_s": round(offset / SAMPLE_RATE, 3),
             "duration_s": round(len(audio) / SAMPLE_RATE, 3)}]


def _reference(item: Any, opts: Options) -> tuple[np.ndarray | None, dict[str, Any]]:
    if not item:
        return None, {"used": False, "reason": "none submitted"}
    try:
        voice = enrolment_embedding(decode(_path("reference_voice", item)), opts)
    except Unreadable as exc:
        return None, {"used": False, "reason": f"unreadable: {exc}"}
    if voice is None:
        return None, {"used": False, "reason": "no speech in the enrolment clip"}
    return voice, {"used": True}


def _summary(result: dict[str, Any], duration: float) -> str:
    counts = {k: v["count"] for k, v in result["stats"].items()}
    found = ", ".join(f"{k} x{n}" for k, n in sorted(counts.items())) or "nothing suspicious"
    return f"analysed {duration:.1f} s of audio: {found}"
