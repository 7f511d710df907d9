"""A COCO object detector for webcam frames: YOLOX-Nano through onnxruntime.

The model (``models/yolox_nano.onnx``, Apache-2.0, see ``models/PROVENANCE.md``) sees a
416x416 letterbox of the frame (aspect kept, padded with grey 114 at the right and bottom,
BGR, raw 0-255 values) and answers 3,549 candidate boxes (strides 8, 16 and 32) with an
objectness and 80 class scores each. Boxes are decoded as in YOLOX's ``demo_postprocess``:
``xy = (raw_xy + grid) * stride``, ``wh = exp(raw_wh) * stride``; the score of a class is
objectness x class score. Only the classes in :data:`CLASSES` are kept.

One call costs ~15-20 ms on one core; :mod:`handlers.webcam.objects` decides when to run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CLASSES", "MODEL_PATH", "Detection", "ObjectDetector"]

MODEL_PATH = Path(__file__).with_name("models") / "yolox_nano.onnx"
_SIZE = 416
_STRIDES = (8, 16, 32)
_NMS_IOU = 0.45
# the COCO classes (index in the model's 80) the checks use
CLASSES = {0: "person", 41: "cup", 62: "tv", 63: "laptop", 65: "remote", 66: "keyboard",
           67: "cell phone", 73: "book"}


@dataclass(frozen=True)
class Detection:
    """One object: its COCO class name, score and box in frame pixels."""

    label: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.x0, self.y0, self.x1, self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 3),
                "box": [round(v) for v in self.box]}


def _grid() -> tuple[np.ndarray, np.ndarray]:
    grids, strides = [], []
    for stride in _STRIDES:
        n = _SIZE // stride
        xs, ys = np.meshgrid(np.arange(n), np.arange(n))
        grids.append(np.stack([xs, ys], axis=2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


class ObjectDetector:
    """YOLOX-Nano on one frame at a time; one onnxruntime session, one thread."""

    def __init__(self, min_score: float = 0.3, model_path: Path = MODEL_PATH) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.min_score = min_score
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._grid, self._strides = _grid()
        self._classes = np.array(sorted(CLASSES), np.int64)
        self.runs = 0

    def raw(self, bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """The model's decoded output (3549 x 85: cx, cy, w, h in input pixels, objectness,
        80 class scores) for a BGR frame, and the letterbox scale."""
        h, w = bgr.shape[:2]
        scale = min(_SIZE / h, _SIZE / w)
        nw, nh = int(w * scale), int(h * scale)
        canvas = np.full((_SIZE, _SIZE, 3), 114, np.uint8)
        canvas[:nh, :nw] = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)
        out = self._session.run(None, {self._input: blob})[0][0].copy()
        self.runs += 1
        out[:, :2] = (out[:, :2] + self._grid) * self._strides
        out[:, 2:4] = np.exp(out[:, 2:4]) * self._strides
        return out, scale

    def detect(self, bgr: np.ndarray, min_score: float | None = None) -> list[Detection]:
        """Objects of :data:`CLASSES` in a BGR frame, best first, after per-class NMS."""
        threshold = self.min_score if min_score is None else min_score
        out, scale = self.raw(bgr)
        scores = out[:, 4:5] * out[:, 5 + self._classes]
        rows, cols = np.nonzero(scores >= threshold)
        if not len(rows):
            return []
        h, w = bgr.shape[:2]
        cx, cy, bw, bh = (out[rows, k] / scale for k in range(4))
        boxes = np.stack([np.clip(cx - bw / 2, 0, w), np.clip(cy - bh / 2, 0, h),
                          np.clip(cx + bw / 2, 0, w), np.clip(cy + bh / 2, 0, h)], axis=1)
        found = []
        for c in np.unique(cols):
            sel = np.nonzero(cols == c)[0]
            s = scores[rows[sel], c]
            keep = cv2.dnn.NMSBoxes(_xywh(boxes[sel]), s.tolist(), threshold, _NMS_IOU)
            label = CLASSES[int(self._classes[c])]
            for k in np.array(keep).reshape(-1):
                found.append(Detection(label, float(s[k]), *(float(v) for v in boxes[sel][k])))
        return sorted(found, key=lambda d: -d.score)


def _xywh(boxes: np.ndarray) -> list[list[float]]:
    return [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in boxes]
