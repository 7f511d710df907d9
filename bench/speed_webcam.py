"""Speed of the webcam handler (see docs/samples-and-bench.md; run by bench/speed.py).

- ``decode_only``: OpenCV (the FFmpeg in opencv-contrib-python) reads every frame, one
  decoding thread, BGR frames, nothing else: the cost of merely looking at the recording.
- ``pipeline``: ``handlers.webcam.webcam.process`` on the file, as the worker calls it.
- ``naive``: the same models on every frame (OpenCV decode, FaceLandmarker, full-range
  detector on the frame and its tiles, dlib identity embedding of the main face); it stops
  after ``budget_s`` and extrapolates. It also reports the per-frame cost without the
  identity embedding, for a fairer reading of the ratio.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2

from _common import decode_every_frame, handler_on, opencv_capture


__all__ = ["MODALITY", "decode_only", "naive", "pipeline"]

MODALITY = "webcam"


def decode_only(path: Path) -> dict[str, Any]:
    """Decode every frame single-threaded; count them."""
    return decode_every_frame(path)


def pipeline(path: Path) -> dict[str, Any]:
    """The handler on the file, as the worker calls it; returns its result."""
    return handler_on(MODALITY, path)


def naive(path: Path, budget_s: float) -> dict[str, Any]:
    """Every model on every frame until ``budget_s``; seconds of work per media second."""
    from handlers.webcam.faces import Landmarker
    from handlers.webcam.identity import Encoder
    from handlers.webcam.small_faces import SmallFaceDetector

    landmarker, detector, encoder = Landmarker(2), SmallFaceDetector(), Encoder()
    cap = opencv_capture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 15.0
    total = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0
    started = time.perf_counter()
    spent_identity, frames = 0.0, 0
    while time.perf_counter() - started < budget_s:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = landmarker.detect(rgb, frames / fps)
        detector.detect(rgb)
        if faces:
            t0 = time.perf_counter()
            encoder.encode(rgb, faces[0].points5)
            spent_identity += time.perf_counter() - t0
        frames += 1
    elapsed = time.perf_counter() - started
    cap.release()
    landmarker.close()
    media_s = max(frames, 1) / fps
    return {"seconds_per_media_second": elapsed / media_s,
            "without_identity_seconds_per_media_second": (elapsed - spent_identity) / media_s,
            "frames": frames, "extrapolated": bool(total and frames < total)}
