"""When to look for small faces, and what counts as an extra one.

The full-range detector (small_faces.py) costs ~17 ms a scan, so it does not run on every
scout sample. :class:`Scanner` scans

- every ``small_face_scan_s`` while the room outside the candidate changes (the frame's luma
  as 40 px cell means, divided by the frame mean so exposure drift does not count; the
  candidate's head and body are blanked out),
- every ``small_face_idle_scan_s`` while nothing changes,
- at every scout sample while an extra face is seen, with a lower score (hysteresis),
- and, when a new extra face appears, backwards over the few scout frames kept since the
  previous scan, so its start is known to one scout interval.

A candidate counts only when the FaceLandmarker, run on the candidate's region enlarged to
~160 px, finds a face with landmarks there (:class:`Confirmer`): a shadow, a picture's
texture or a poster's pattern that fooled the detector is dropped. checks.py then also asks
for two samples in a row.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from handlers.webcam.faces import FaceObs, Landmarker
from handlers.webcam.options import Options
from handlers.webcam.small_faces import FaceBox, SmallFaceDetector

__all__ = ["Confirmer", "Scanner"]

_CELL = 40       # px: the room is compared in cells of this size ...
_CHANGE = 0.06   # ... whose exposure-normalised mean luma moved by this much
_KEEP_SCORE = 0.75  # an extra face seen at the last scan is kept at this fraction of the score


def _room(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    cells = cv2.resize(luma, (max(1, w // _CELL), max(1, h // _CELL)), interpolation=cv2.INTER_AREA)
    cells = cells.astype(np.float32)
    return cells / max(1.0, float(cells.mean()))


def _blank(cells: np.ndarray, x0: float, y0: float, x1: float) -> None:
    """Zero the cells from (x0, y0) to (x1, bottom of the frame), given in pixels."""
    cells[max(0, int(y0 // _CELL)):, max(0, int(x0 // _CELL)):max(0, int(x1 // _CELL) + 1)] = 0.0


def _centre_in(box: FaceBox, main: FaceBox) -> bool:
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return main.x0 <= cx <= main.x1 and main.y0 <= cy <= main.y1


class Confirmer:
    """A second look at a candidate face: the FaceLandmarker on the enlarged region around it."""

    def __init__(self) -> None:
        self.model = Landmarker(1, video=False)

    def is_face(self, rgb: np.ndarray, box: FaceBox) -> bool:
        return self.find(rgb, box) is not None

    def find(self, rgb: np.ndarray, box: FaceBox) -> FaceObs | None:
        """The landmarked face at ``box`` (frame coordinates), or None."""
        h, w = rgb.shape[:2]
        side = 1.8 * max(box.width, box.y1 - box.y0)
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        scale = 288 / max(x1 - x0, y1 - y0)
        crop = cv2.resize(rgb[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for f in self.model.detect(crop):
            mapped = _to_frame(f, scale, x0, y0)
            if abs(mapped.centre[0] - cx) < box.width * 0.6 and abs(mapped.centre[1] - cy) < box.width * 0.6:
                return mapped
        return None

    def close(self) -> None:
        self.model.close()


def _to_frame(face: FaceObs, scale: float, x0: float, y0: float) -> FaceObs:
    """A face found on an enlarged crop, in the frame's pixels (angles and scores unchanged)."""
    def back(x: float, y: float) -> tuple[float, float]:
        return x / scale + x0, y / scale + y0

    (bx0, by0), (bx1, by1) = back(*face.box[:2]), back(*face.box[2:])
    return replace(face, box=(bx0, by0, bx1, by1), points5=tuple(back(x, y) for x, y in face.points5))


class Scanner:
    """Decides when to scan a scout frame and counts the faces besides the main one."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.detector = SmallFaceDetector(opts.small_face_min_score)
        self.confirmer = Confirmer()
        self.confirmed: list[FaceBox] = []
        self.scans = 0
        self.last_t = -1e9
        self.last_room: np.ndarray | None = None
        self.last_face: FaceObs | None = None
        self.last_extra = 0
        keep = max(1, round(opts.small_face_scan_s / max(opts.scout_interval_s, 0.1)) + 2)
        self.recent: deque[tuple[float, np.ndarray, FaceObs | None, Callable[[int], None]]] = deque(maxlen=keep)

    def maybe_scan(self, t: float, luma: np.ndarray, rgb: np.ndarray, face: FaceObs | None,
                   record: Callable[[list[FaceBox]], None]) -> None:
        """Scan now if due; ``record(boxes)`` stores the extra faces found on the sample."""
        since, room = t - self.last_t, _room(luma)
        if self.last_extra or since >= self.opts.small_face_idle_scan_s or (
                since >= self.opts.small_face_scan_s and self._room_changed(room, face)):
            boxes = self.extra_faces(rgb, face, keep=bool(self.last_extra))
            record(boxes)
            extra = len(boxes)
            if extra and not self.last_extra:
                self._scan_back()
            self.last_t, self.last_room, self.last_face, self.last_extra = t, room, face, extra
            self.recent.clear()
        else:
            self.recent.append((t, rgb, face, record))

    def extra_faces(self, rgb: np.ndarray, main: FaceObs | None, keep: bool = False) -> list[FaceBox]:
        """Faces besides the main one (``keep``: one was seen just before: lower score)."""
        self.scans += 1
        threshold = self.opts.small_face_min_score * (_KEEP_SCORE if keep else 1.0)
        boxes = self.detector.detect(rgb, min_score=threshold)
        if main is not None:
            mb = FaceBox(*main.box, 1.0)
            boxes = [b for b in boxes if b.iou(mb) < 0.2 and not _centre_in(b, mb)]
        # a face confirmed at the last scan is followed there without a new confirmation
        kept = [b for b in boxes if any(b.iou(c) > 0.3 for c in self.confirmed) or self.confirmer.is_face(rgb, b)]
        self.confirmed = kept
        return kept

    def rescue(self, rgb: np.ndarray) -> list[FaceObs]:
        """A face the landmarker missed on the whole frame (small, distant, dim): the full-range
        detector's best box, landmarked on its enlarged region; [] when there is none."""
        for box in sorted(self.detector.detect(rgb), key=lambda b: -b.score)[:1]:
            face = self.confirmer.find(rgb, box)
            if face is not None:
                return [face]
        return []

    def _room_changed(self, room: np.ndarray, face: FaceObs | None) -> bool:
        if self.last_room is None:
            return True
        diff = np.abs(room - self.last_room)
        for f in (face, self.last_face):
            if f is not None:
                x0, y0, x1, y1 = f.box
                w, h = x1 - x0, y1 - y0
                _blank(diff, x0 - 0.3 * w, y0 - 0.3 * h, x1 + 0.3 * w)  # head
                _blank(diff, x0 - 1.0 * w, y1 + 0.1 * h, x1 + 1.0 * w)  # shoulders and below
        return bool(diff.max() > _CHANGE)

    def _scan_back(self) -> None:
        """A new extra face: scan the kept scout frames, newest first, until one has none."""
        for _, rgb, face, record in reversed(self.recent):
            boxes = self.extra_faces(rgb, face)
            record(boxes)
            if not boxes:
                break
