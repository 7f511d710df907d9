"""Is somebody in front of the camera? MediaPipe's selfie segmentation, for frames without a face.

A face can be lost while the person is still there: the head turned away or bowed, the face
out of the top of the frame, in profile beyond what the landmarker follows. Those are
``head_turned`` (looking away), not ``face_absent``. This module answers the question the
face model cannot: the share of the frame that the person-segmentation model
(``models/selfie_segmentation_landscape.tflite``, vendored from the Apache-2.0
``mediapipe`` 0.10.21 wheel, see ``models/PROVENANCE.md``) marks as a person. It runs only on
frames where no face was found (~10 ms each).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["MODEL_PATH", "PersonSegmenter", "PERSON_SHARE"]

MODEL_PATH = Path(__file__).with_name("models") / "selfie_segmentation_landscape.tflite"
_SIZE = (256, 144)  # width, height
PERSON_SHARE = 0.10  # a person at the webcam covers more (head and shoulders: ~15-70 %); an arm at the edge less


class PersonSegmenter:
    """The share of a frame covered by a person (mask probability > 0.5)."""

    def __init__(self, model_path: Path = MODEL_PATH) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_path=str(model_path), num_threads=1)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]

    def share(self, rgb: np.ndarray) -> float:
        """Share (0..1) of the frame that shows a person."""
        x = cv2.resize(rgb, _SIZE, interpolation=cv2.INTER_AREA).astype(np.float32) * (1.0 / 255.0)
        self._it.set_tensor(self._in, x[None])
        self._it.invoke()
        return float((self._it.get_tensor(self._out)[0, ..., 0] > 0.5).mean())
