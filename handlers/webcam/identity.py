"""Who is in front of the camera: dlib's 128-d face embedding on a few chosen frames.

The models are dlib's ResNet face encoder and 5-point shape predictor from the pip package
``face-recognition-models`` 0.3.0 (CC0 / Boost-licensed dlib models), run by ``dlib-bin``.
They are loaded through dlib directly: the ``face_recognition`` wrapper (and the
``pkg_resources`` it needs) is not used. The alignment points come from the FaceLandmarker
(the five mesh points matching dlib's 5-point model), so neither dlib's detector nor its
shape predictor runs. One embedding costs ~170 ms, so the analyser asks for one
per face track and every ``identity_every_s``, never per frame.

Two embeddings belong to the same person when their Euclidean distance is below
``identity_max_distance`` (0.6, dlib's published operating point).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

__all__ = ["Encoder", "distance", "mismatch_confidence"]

# How sure a distance makes us that two faces are different people: the logistic curve fitted to
# the genuine and impostor distances of bench/webcam_identity.py (README: "Identity on hard
# pairs") has its middle at 0.513 and a scale of 0.031; the curve is moved up to the flagging
# threshold (0.6 by default), so a distance just past it is reported as an even call, not as
# the ~0.94 the fit gives there (our genuine pairs lack years apart and glasses).
_MID, _SCALE = 0.513, 0.031


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise RuntimeError("face-recognition-models is not installed (handlers/webcam/requirements.txt)")
    return Path(spec.origin).parent / "models"


class Encoder:
    """Face embeddings for boxes given by the caller."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        path = _models_dir() / "dlib_face_recognition_resnet_model_v1.dat"
        self._net = dlib.face_recognition_model_v1(str(path))

    def encode(self, rgb: np.ndarray, points5) -> np.ndarray:
        """The 128-d embedding of the face whose five alignment points are given (pixels)."""
        dlib = self._dlib
        xs, ys = [p[0] for p in points5], [p[1] for p in points5]
        rect = dlib.rectangle(int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points5])
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(rgb), shape, 1))


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def mismatch_confidence(d: float, threshold: float) -> float:
    """Confidence that a face at distance ``d`` (above ``threshold``) is someone else: low just
    past the threshold, where genuine and impostor pairs overlap, high well beyond it."""
    mid = max(_MID, threshold)
    return round(float(1.0 / (1.0 + np.exp(-(d - mid) / _SCALE))), 3)
