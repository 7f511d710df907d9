"""The streaming pass over one recording: sample, track, densify around changes.

ffmpeg (a child process, decode.py) delivers ~``dense_fps`` frames per second. Every frame
gets a cheap brightness test. One frame per ``scout_interval_s`` goes through the
FaceLandmarker (the *scout*, in VIDEO mode, so it tracks between samples). When two
consecutive scout samples differ (a face appeared or left, the head turned, the mouth moved,
the light changed...), the frames buffered between them go through a second landmarker
(*dense*), so edges are placed at ~0.2-0.3 s instead of 1 s and talking is seen at the
syllable rate. Every ``small_face_scan_s`` (and at every scout sample while a small extra
face is seen) the full-range detector scans the frame and its tiles; when it finds a new
extra face, the few scout frames kept since the previous scan are scanned too. Identity
embeddings are taken on the first settled frontal frame of each face track and every
``identity_every_s``; they run on a helper thread, beside the next frames' landmarks.

Output: an :class:`Observations` record; checks.py turns it into violations.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handlers.webcam.decode import Frame, VideoInfo, frames
from handlers.webcam.faces import FaceObs, Landmarker
from handlers.webcam.identity import Encoder
from handlers.webcam.options import Options
from handlers.webcam.small_faces import FaceBox, SmallFaceDetector

__all__ = ["Obs", "Observations", "analyse", "is_dark"]

logger = logging.getLogger(__name__)

_MOUTH_LUMA_JUMP = 6.0  # grey levels: the mouth region darkened or brightened between samples


@dataclass(slots=True)
class Obs:
    t: float
    dense: bool
    dark: bool
    faces: list[FaceObs]
    extra_small: int | None = None  # faces the full-range scan found besides the main one

    @property
    def face(self) -> FaceObs | None:
        return self.faces[0] if self.faces else None


@dataclass
class Observations:
    obs: list[Obs] = field(default_factory=list)        # landmarker samples, time order
    light: list[tuple[float, bool]] = field(default_factory=list)  # (t, dark) for every frame
    embeddings: list[tuple[float, np.ndarray]] = field(default_factory=list)
    frames_received: int = 0
    end_s: float = 0.0
    scans: int = 0


def is_dark(frame: Frame, opts: Options) -> bool:
    """Too dark, or so uniform that nothing can be seen (lens covered)."""
    y = frame.luma[::8, ::8]
    return bool(y.mean() < opts.dark_luma or y.std() < opts.uniform_luma_std)


def _changed(a: Obs, b: Obs) -> bool:
    """Do two scout samples differ enough to look at the frames between them?"""
    if a.dark != b.dark or len(a.faces) != len(b.faces):
        return True
    if a.extra_small is not None and b.extra_small is not None and a.extra_small != b.extra_small:
        return True
    fa, fb = a.face, b.face
    if fa is None or fb is None:
        return False
    return (abs(fa.yaw - fb.yaw) > 8 or abs(fa.pitch - fb.pitch) > 8
            or abs(fa.gaze_h - fb.gaze_h) > 0.12 or abs(fa.gaze_v - fb.gaze_v) > 0.12
            or abs(fa.mouth - fb.mouth) > 0.006 or abs(fa.smile - fb.smile) > 0.2
            or abs(fa.surprise - fb.surprise) > 0.2 or _jumped(fa, fb))


def _jumped(a: FaceObs, b: FaceObs) -> bool:
    (ax, ay), (bx, by) = a.centre, b.centre
    return abs(ax - bx) + abs(ay - by) > 0.6 * max(a.width, b.width) or not 0.67 < a.width / b.width < 1.5


class _Pass:
    def __init__(self, info: VideoInfo, opts: Options) -> None:
        self.info, self.opts = info, opts
        self.scout, self.dense = Landmarker(2), Landmarker(2)
        self.small = SmallFaceDetector(opts.small_face_min_score)
        self.encoder = Encoder()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webcam-identity")
        self.pending: list[tuple[float, Future]] = []
        self.out = Observations()
        self.recent: deque[tuple[Frame, np.ndarray]] = deque(maxlen=max(1, round(opts.small_face_scan_s / opts.scout_interval_s)))
        self.next_scan = 0.0
        self.track_start: float | None = None  # time the current face track began
        self.next_identity = 0.0

    def run(self, path: Path) -> Observations:
        opts, prev, buffer = self.opts, None, []
        next_scout = 0.0
        try:
            for frame in frames(path, self.info, opts.dense_fps):
                self.out.frames_received += 1
                self.out.end_s = frame.t
                dark = is_dark(frame, opts)
                self.out.light.append((frame.t, dark))
                if frame.t + 1e-6 < next_scout:
                    buffer.append((frame, dark))
                    continue
                next_scout = frame.t + opts.scout_interval_s
                obs, rgb = self._scout(frame, dark)
                block = [obs]
                if prev is not None and buffer and (_changed(prev, obs) or self._talky(prev, buffer, frame)):
                    block = [self._observe(f, d, self.dense, dense=True)[0] for f, d in buffer] + [obs]
                self.out.obs.extend(block)
                if rgb is not None:
                    self._identity(block, obs, rgb)
                prev, buffer = obs, []
        finally:
            self.out.embeddings.extend((t, f.result()) for t, f in self.pending)
            self.pool.shutdown(wait=True)
            self.scout.close()
            self.dense.close()
        if self.info.duration_s:
            self.out.end_s = max(self.out.end_s, self.info.duration_s)
        return self.out

    def _talky(self, prev: Obs, buffer: list[tuple[Frame, bool]], frame: Frame) -> bool:
        """Did the mouth move between two scout samples? Cheap: the mean luma of the mouth
        region (an open mouth is a dark hole) over the frames in between; or the mouth was
        moving in the last samples seen."""
        recent = [o.face.mouth for o in self.out.obs[-8:] if o.face is not None]
        if len(recent) >= 3 and float(np.std(recent)) > 0.5 * self.opts.talking_mouth_std:
            return True
        if prev.face is None:
            return False
        x0, y0, x1, y1 = prev.face.mouth_box
        h, w = frame.luma.shape
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 4 or y1 - y0 < 4:
            return False
        means = [float(f.luma[y0:y1, x0:x1].mean()) for f, _ in buffer] + [float(frame.luma[y0:y1, x0:x1].mean())]
        return max(means) - min(means) > _MOUTH_LUMA_JUMP

    def _observe(self, frame: Frame, dark: bool, model: Landmarker, dense: bool):
        if dark:
            return Obs(frame.t, dense, True, []), None
        rgb = frame.rgb()
        return Obs(frame.t, dense, False, model.detect(rgb, frame.t)), rgb

    def _scout(self, frame: Frame, dark: bool) -> tuple[Obs, np.ndarray | None]:
        obs, rgb = self._observe(frame, dark, self.scout, dense=False)
        if rgb is None:
            return obs, None
        last_extra = next((o.extra_small for o in reversed(self.out.obs) if o.extra_small is not None), 0)
        if frame.t >= self.next_scan or last_extra:
            obs.extra_small = self._extra_faces(rgb, obs.face)
            self.next_scan = frame.t + self.opts.small_face_scan_s
            if obs.extra_small and not last_extra:
                self._scan_back()
        self.recent.append((frame, rgb))
        return obs, rgb

    def _extra_faces(self, rgb: np.ndarray, main: FaceObs | None) -> int:
        self.out.scans += 1
        boxes = self.small.detect(rgb)
        if main is not None:
            mb = FaceBox(*main.box, 1.0)
            boxes = [b for b in boxes if b.iou(mb) < 0.2 and not _centre_in(b, mb)]
        return len(boxes)

    def _scan_back(self) -> None:
        """A new extra face: scan the kept scout frames, newest first, until one has none."""
        by_t = {round(o.t, 4): o for o in self.out.obs if not o.dense}
        for frame, rgb in reversed(self.recent):
            o = by_t.get(round(frame.t, 4))
            if o is None or o.extra_small is not None:
                continue
            o.extra_small = self._extra_faces(rgb, o.face)
            if not o.extra_small:
                break

    def _identity(self, block: list[Obs], obs: Obs, rgb: np.ndarray) -> None:
        """Start a new track after an absence or a jump; embed settled frontal faces."""
        faces = [o.face for o in block]
        broken = any(f is None for f in faces) or any(
            a is not None and b is not None and _jumped(a, b) for a, b in zip(faces, faces[1:]))
        if obs.face is None:
            self.track_start = None
            return
        if broken or self.track_start is None:
            self.track_start, self.next_identity = obs.t, obs.t + 0.5 * self.opts.scout_interval_s
            return
        face = obs.face
        if obs.t >= self.next_identity and abs(face.yaw) < 30 and abs(face.pitch) < 30 and face.width >= 60:
            self.pending.append((obs.t, self.pool.submit(self.encoder.encode, rgb, face.points5)))
            self.next_identity = obs.t + self.opts.identity_every_s


def _centre_in(box: FaceBox, main: FaceBox) -> bool:
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return main.x0 <= cx <= main.x1 and main.y0 <= cy <= main.y1


def analyse(path: Path, info: VideoInfo, opts: Options) -> Observations:
    """Run the pass over one recording (raises decode.MediaUnreadable)."""
    return _Pass(info, opts).run(path)
