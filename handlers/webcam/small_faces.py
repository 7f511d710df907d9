"""Other faces, small and distant ones too: MediaPipe's full-range BlazeFace on the frame and tiles.

The FaceLandmarker finds faces down to ~100 px (its detector is the short-range one). A second
person sitting behind the candidate is often 30-60 px wide, so this module runs the
full-range detector (``models/face_detection_full_range_sparse.tflite``, vendored from the
Apache-2.0 ``mediapipe`` 0.10.21 wheel, see ``models/PROVENANCE.md``) through LiteRT on the
whole frame and four overlapping tiles (each seen ~1.7x larger), in one batched call.

The anchor layout and box decoding follow MediaPipe's ``face_detection_full_range.pbtxt``:
one 48x48 grid of unit anchors, offsets in input pixels, sigmoid scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["FaceBox", "SmallFaceDetector", "MODEL_PATH"]

MODEL_PATH = Path(__file__).with_name("models") / "face_detection_full_range_sparse.tflite"
_SIZE = 192
_GRID = 48
_NMS_IOU = 0.3


@dataclass(frozen=True)
class FaceBox:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    def iou(self, other: "FaceBox") -> float:
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.width * (self.y1 - self.y0) + other.width * (other.y1 - other.y0) - inter
        return inter / union if union > 0 else 0.0


def _anchors() -> np.ndarray:
    centres = (np.arange(_GRID, dtype=np.float32) + 0.5) / _GRID
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The whole frame (large and medium faces), then 2x2 tiles of 60 % of each side: they
    overlap by 20 %, so any face up to ~0.15 of the frame width lies whole in one of them."""
    tw, th = int(width * 0.6), int(height * 0.6)
    boxes = [(0, 0, width, height)]
    for y in (0, height - th):
        for x in (0, width - tw):
            boxes.append((x, y, x + tw, y + th))
    return boxes


class SmallFaceDetector:
    """Full-range face detection on a frame; one LiteRT interpreter, single-threaded."""

    def __init__(self, min_score: float = 0.6, model_path: Path = MODEL_PATH) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.min_score = min_score
        self._it = Interpreter(model_path=str(model_path), num_threads=1)
        self._batch = 0
        self._anchors = _anchors()

    def _ensure_batch(self, n: int) -> None:
        if n != self._batch:
            self._it.resize_tensor_input(self._it.get_input_details()[0]["index"], [n, _SIZE, _SIZE, 3])
            self._it.allocate_tensors()
            outs = self._it.get_output_details()
            self._boxes_idx = next(o["index"] for o in outs if o["shape"][-1] == 16)
            self._scores_idx = next(o["index"] for o in outs if o["shape"][-1] == 1)
            self._batch = n

    def detect(self, rgb: np.ndarray, use_tiles: bool = True, min_score: float | None = None) -> list[FaceBox]:
        """Faces in an RGB frame, in frame pixels, after non-maximum suppression."""
        threshold = self.min_score if min_score is None else min_score
        h, w = rgb.shape[:2]
        regions = tiles(w, h) if use_tiles else [(0, 0, w, h)]
        batch = np.empty((len(regions), _SIZE, _SIZE, 3), np.float32)
        transforms = [self._letterbox(rgb, r, batch[i]) for i, r in enumerate(regions)]
        self._ensure_batch(len(regions))
        self._it.set_tensor(self._it.get_input_details()[0]["index"], batch)
        self._it.invoke()
        n = len(regions)  # the model's reshapes flatten the batch: [1, n * 2304, k]
        raw_boxes = self._it.get_tensor(self._boxes_idx).reshape(n, _GRID * _GRID, 16)
        raw_scores = self._it.get_tensor(self._scores_idx).reshape(n, _GRID * _GRID)
        found: list[FaceBox] = []
        for i, (scale, ox, oy) in enumerate(transforms):
            found.extend(self._decode(raw_boxes[i], raw_scores[i], scale, ox, oy, threshold))
        return _nms(found)

    @staticmethod
    def _letterbox(rgb: np.ndarray, region: tuple[int, int, int, int], out: np.ndarray):
        x0, y0, x1, y1 = region
        crop = rgb[y0:y1, x0:x1]
        scale = _SIZE / max(x1 - x0, y1 - y0)
        nw, nh = round((x1 - x0) * scale), round((y1 - y0) * scale)
        px, py = (_SIZE - nw) // 2, (_SIZE - nh) // 2
        out[:] = 0.0
        resized = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        out[py:py + nh, px:px + nw] = resized.astype(np.float32) * (2.0 / 255.0) - 1.0
        # input pixel p maps to frame pixel (p - pad) / scale + region origin
        return scale, x0 - px / scale, y0 - py / scale

    def _decode(self, raw: np.ndarray, raw_scores: np.ndarray, scale: float, ox: float, oy: float, threshold: float):
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -80, 80)))
        keep = np.nonzero(scores >= threshold)[0]
        boxes = []
        for k in keep:
            cx = raw[k, 0] + self._anchors[k, 0] * _SIZE
            cy = raw[k, 1] + self._anchors[k, 1] * _SIZE
            bw, bh = raw[k, 2], raw[k, 3]
            boxes.append(FaceBox((cx - bw / 2) / scale + ox, (cy - bh / 2) / scale + oy,
                                 (cx + bw / 2) / scale + ox, (cy + bh / 2) / scale + oy, float(scores[k])))
        return boxes


def _nms(boxes: list[FaceBox]) -> list[FaceBox]:
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(box.iou(k) < _NMS_IOU and not _inside(box, k) for k in kept):
            kept.append(box)
    return kept


def _inside(small: FaceBox, big: FaceBox) -> bool:
    """A tile's partial view of a big face: mostly inside a kept, larger box."""
    ix = max(0.0, min(small.x1, big.x1) - max(small.x0, big.x0))
    iy = max(0.0, min(small.y1, big.y1) - max(small.y0, big.y0))
    area = small.width * (small.y1 - small.y0)
    return area > 0 and ix * iy / area > 0.6
