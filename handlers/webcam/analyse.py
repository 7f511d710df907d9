"""The streaming pass over one recording: sample, track, densify around changes.

ffmpeg (a child process, decode.py) delivers ~``dense_fps`` frames per second. Every frame
gets a cheap brightness test. One frame per ``scout_interval_s`` goes through the
FaceLandmarker (the *scout*). Faces are tracked between samples by this module (jumps of
the face box, colour jumps, absences), not by MediaPipe's VIDEO mode. When two
consecutive scout samples differ (a face appeared or left, the head turned, the mouth moved,
the light changed...), or the mouth region of the frames between them changed more than the
eye region (speech whose scout samples all caught a closed mouth), the frames received between them go through a second landmarker
(*dense*) on a helper thread, while the main thread goes on with the next scout sample; so
interval edges are placed to ~0.3 s and talking is seen at the syllable rate. Small faces
are looked for by scanner.py on scout frames. Identity embeddings are taken on the first
settled frontal frame of each face track and every ``identity_every_s``, on another helper
thread. Work runs on both cores: ffmpeg, the scout, the dense landmarker and dlib overlap.

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
from handlers.webcam.objects import ObjectSample, ObjectScan
from handlers.webcam.options import Options
from handlers.webcam.person import PersonSegmenter
from handlers.webcam.scanner import Scanner
from handlers.webcam.small_faces import FaceBox

__all__ = ["Obs", "Observations", "analyse_span", "is_dark", "mouth_moves"]

logger = logging.getLogger(__name__)

@dataclass(slots=True)
class Obs:
    t: float
    dense: bool
    dark: bool
    faces: list[FaceObs]
    look: np.ndarray | None = None  # the main face's colours (see _look)
    extra_small: int | None = None  # faces the full-range scan found (and confirmed) besides the main one
    extra_px: float | None = None   # the smallest of them, width in pixels
    extra_boxes: list[FaceBox] = field(default_factory=list)
    person: float | None = None     # share of the frame showing a person, measured when no face is found

    def record_extra(self, boxes: list[FaceBox]) -> None:
        self.extra_small = len(boxes)
        self.extra_px = min((b.width for b in boxes), default=None)
        self.extra_boxes = list(boxes)

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
    segments: int = 1  # time segments analysed in parallel processes (segments.py)
    objects: list[ObjectSample] = field(default_factory=list)  # object detector runs (objects.py)


_LOOK_JUMP = 0.15  # relative change of a colour channel of the face that asks for an embedding
_MOUTH_MOTION = 1.3  # frame-to-frame change of the mouth region over the eye region's: speech


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
    return (abs(fa.yaw - fb.yaw) > 10 or abs(fa.pitch - fb.pitch) > 10
            or abs(fa.gaze_h - fb.gaze_h) > 0.08 or abs(fa.gaze_v - fb.gaze_v) > 0.2
            or abs(fa.smile - fb.smile) > 0.2 or abs(fa.surprise - fb.surprise) > 0.2 or _jumped(fa, fb))


def _jumped(a: FaceObs, b: FaceObs) -> bool:
    (ax, ay), (bx, by) = a.centre, b.centre
    return abs(ax - bx) + abs(ay - by) > 0.6 * max(a.width, b.width) or not 0.67 < a.width / b.width < 1.5


class _Pass:
    def __init__(self, info: VideoInfo, opts: Options) -> None:
        self.info, self.opts = info, opts
        # the main face only (-30 % cost vs two; other faces are the scanner's), IMAGE mode:
        # VIDEO mode's tracking carries a stale region across the gaps between samples and
        # then misplaces the lips (measured: a closed mouth read as open after a head turn)
        self.scout, self.dense = Landmarker(1, video=False), Landmarker(1, video=False)
        # a person without a face (turned away, head out of frame) is not an absence (person.py);
        # a face too small or dim for the landmarker is looked for again first (Scanner.rescue)
        self.segmenters = {id(self.scout): PersonSegmenter(), id(self.dense): PersonSegmenter()}
        self.scanner = Scanner(opts)
        self.rescuers = {id(self.scout): self.scanner, id(self.dense): Scanner(opts)}
        self.objects = ObjectScan(opts)
        self.encoder = Encoder()
        self.dense_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webcam-dense")
        self.identity_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webcam-identity")
        self.embeddings: list[tuple[float, Future]] = []
        self.out = Observations()
        self.track_start: float | None = None  # time the current face track began
        self.next_identity = 0.0
        self.track_look = np.zeros(3, np.float32)  # the current face's usual colours
        self.mouths: deque[tuple[float, float, float]] = deque(maxlen=31)  # scout samples' mouth, yaw, pitch
        self.prev: Obs | None = None
        self.prev_buffer: list[tuple[Frame, bool]] = []  # frames of the last block not densified
        self.pending: tuple[Future | None, Obs, np.ndarray | None] | None = None

    def run(self, path: Path, start_s: float = 0.0, end_s: float | None = None) -> Observations:
        next_scout, buffer = 0.0, []
        try:
            for frame in frames(path, self.info, self.opts.dense_fps, start_s=start_s, end_s=end_s):
                self.out.frames_received += 1
                self.out.end_s = frame.t
                dark = is_dark(frame, self.opts)
                self.out.light.append((frame.t, dark))
                if frame.t + 1e-6 < next_scout:
                    buffer.append((frame, dark))
                    continue
                next_scout = frame.t + self.opts.scout_interval_s
                self._step(frame, dark, buffer)
                buffer = []
            if buffer:  # the frames after the last scout sample: the stream's end is seen too
                frame, dark = buffer.pop()
                self._step(frame, dark, buffer)
            self._finish()
        finally:
            self.dense_pool.shutdown(wait=True)
            self.identity_pool.shutdown(wait=True)
            self.scout.close()
            self.dense.close()
            for scanner in self.rescuers.values():
                scanner.confirmer.close()
        self.out.embeddings = [(t, f.result()) for t, f in self.embeddings]
        self.out.scans = self.scanner.scans
        self.out.objects = self.objects.samples
        self.out.obs.sort(key=lambda o: o.t)
        if self.info.duration_s and end_s is None:
            self.out.end_s = max(self.out.end_s, self.info.duration_s)
        return self.out

    def _step(self, frame: Frame, dark: bool, buffer: list[tuple[Frame, bool]]) -> None:
        """One scout sample (while the helper thread still works on the last block). If
        something changed since the last sample, the frames between go to the helper thread:
        every other one for a change of state (edges to ~0.3-0.5 s); all of them while the
        mouth moves, and every other one of the block before (talking starts unseen)."""
        obs, rgb = self._observe(frame, dark, self.scout, dense=False)
        if rgb is not None:
            self.scanner.maybe_scan(frame.t, frame.luma, rgb, obs.face, obs.record_extra)
        self._finish()
        prev, job = self.prev, None
        if rgb is not None:  # objects.py: sparse, and at changes the scout pass finds
            self.objects.maybe_scan(frame.t, rgb, obs.face.box if obs.face else None,
                                    prev is not None and _changed(prev, obs), frame.luma)
        mouth = prev is not None and (self._talky(prev, obs) or self._mouth_moved(prev, buffer, frame))
        if prev is not None and buffer and (mouth or _changed(prev, obs)):
            todo = (self.prev_buffer[1::2] + buffer) if mouth else buffer[1::2]
            job = self.dense_pool.submit(self._dense, todo)
            self.prev_buffer = []
        else:
            self.prev_buffer = buffer
        self.pending = (job, obs, rgb)
        if obs.face is not None:
            self.mouths.append((obs.face.mouth, obs.face.yaw, obs.face.pitch))
        self.prev = obs

    def _finish(self) -> None:
        """Collect the last block's dense samples; decide on identity embeddings."""
        if self.pending is None:
            return
        job, obs, rgb = self.pending
        self.pending = None
        block = sorted((job.result() if job else []) + [obs], key=lambda o: o.t)
        self.out.obs.extend(block)
        if rgb is not None:
            self._identity(block, obs, rgb)

    def _dense(self, frames_: list[tuple[Frame, bool]]) -> list[Obs]:
        return [self._observe(f, d, self.dense, dense=True)[0] for f, d in frames_]

    def _talky(self, prev: Obs, obs: Obs) -> bool:
        """Is the mouth moving? Between the two scout samples, in the last samples, or this
        sample's opening is off the usual one (the median of recent scout samples). Only
        for faces near their usual pose: turning the head changes the apparent opening."""
        if not (self._usual_pose(prev) and self._usual_pose(obs)):
            return False
        if abs(prev.face.mouth - obs.face.mouth) > 1.25 * self.opts.talking_mouth_std:
            return True
        recent = [o.face.mouth for o in self.out.obs[-8:] if o.face is not None and self._usual_pose(o)]
        if len(recent) >= 3 and float(np.std(recent)) > 0.5 * self.opts.talking_mouth_std:
            return True
        if len(self.mouths) < 5:
            return False
        return abs(obs.face.mouth - float(np.median([m for m, _, _ in self.mouths]))) > self.opts.talking_mouth_std

    def _mouth_moved(self, prev: Obs, buffer: list[tuple[Frame, bool]], frame: Frame) -> bool:
        """Did the mouth region change between the frames of the block more than the eye
        region did? Scout samples alone can miss speech: they may all fall on closed-mouth
        moments. This costs a few small array differences per block, no model run."""
        if prev.face is None or not self._usual_pose(prev) or any(dark for _, dark in buffer):
            return False
        return mouth_moves([f.luma for f, _ in buffer] + [frame.luma], prev.face)

    def _usual_pose(self, o: Obs) -> bool:
        if o.face is None:
            return False
        if len(self.mouths) < 3:
            return True
        yaw = float(np.median([y for _, y, _ in self.mouths]))
        pitch = float(np.median([p for _, _, p in self.mouths]))
        return (abs(o.face.yaw - yaw) < 0.6 * self.opts.head_yaw_deg
                and abs(o.face.pitch - pitch) < 0.6 * self.opts.head_pitch_down_deg)

    def _observe(self, frame: Frame, dark: bool, model: Landmarker, dense: bool):
        if dark:
            return Obs(frame.t, dense, True, []), None
        rgb = frame.rgb()
        faces = model.detect(rgb, frame.t) or self.rescuers[id(model)].rescue(rgb)
        if not faces:
            return Obs(frame.t, dense, False, [], person=self.segmenters[id(model)].share(rgb)), rgb
        return Obs(frame.t, dense, False, faces, _look(rgb, faces[0])), rgb

    def _identity(self, block: list[Obs], obs: Obs, rgb: np.ndarray) -> None:
        """Start a new track after an absence or a jump; embed settled frontal faces at a
        track's start, every ``identity_every_s``, and when the face's colours jump (someone
        else may have sat down without leaving the frame empty)."""
        faces = [o.face for o in block]
        broken = any(f is None for f in faces) or any(
            a is not None and b is not None and _jumped(a, b) for a, b in zip(faces, faces[1:]))
        if obs.face is None:
            self.track_start = None
            return
        look = obs.look
        if broken or self.track_start is None:
            self.track_start, self.next_identity, self.track_look = obs.t, obs.t + 0.5 * self.opts.scout_interval_s, look
            self.mouths.clear()  # maybe someone else: their mouth has its own usual opening
            return
        if float(np.abs(look - self.track_look).max()) > _LOOK_JUMP:
            self.next_identity, self.track_look = obs.t, look
        self.track_look = 0.9 * self.track_look + 0.1 * look
        face = obs.face
        if obs.t >= self.next_identity and abs(face.yaw) < 30 and abs(face.pitch) < 30 and face.width >= 60:
            self.embeddings.append((obs.t, self.identity_pool.submit(self.encoder.encode, rgb, face.points5)))
            self.next_identity = obs.t + self.opts.identity_every_s


def mouth_moves(lumas: list[np.ndarray], face: FaceObs) -> bool:
    """Across consecutive luma planes, did the mouth region of ``face``'s box change more
    (mean absolute frame difference) than its eye region? Head motion and sensor noise move
    both; speech moves the mouth."""
    seq = [_regions(luma, face) for luma in lumas]
    if len(seq) < 3 or any(r is None for r in seq):
        return False
    mouth = np.mean([np.abs(b[0] - a[0]).mean() for a, b in zip(seq, seq[1:])])
    eyes = np.mean([np.abs(b[1] - a[1]).mean() for a, b in zip(seq, seq[1:])])
    return bool(mouth > _MOUTH_MOTION * max(float(eyes), 1.0))


def _regions(luma: np.ndarray, face: FaceObs) -> tuple[np.ndarray, np.ndarray] | None:
    """The mouth and the eye regions of a face box in a luma plane (int16), or None if empty."""
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    xs = slice(max(0, int(x0 + 0.25 * w)), max(0, int(x1 - 0.25 * w)))
    mouth = luma[max(0, int(y0 + 0.70 * h)):max(0, int(y0 + 0.95 * h)), xs]
    eyes = luma[max(0, int(y0 + 0.20 * h)):max(0, int(y0 + 0.45 * h)), xs]
    if mouth.size == 0 or eyes.size == 0:
        return None
    return mouth.astype(np.int16), eyes.astype(np.int16)


def _look(rgb: np.ndarray, face: FaceObs) -> np.ndarray:
    """Mean colour of the upper face (brows to nose: not the mouth, which opens and closes),
    relative to the frame's mean (exposure)."""
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    inner = rgb[max(0, int(y0 + 0.25 * h)):max(1, int(y0 + 0.6 * h)), max(0, int(x0 + 0.25 * w)):max(1, int(x1 - 0.25 * w))]
    if inner.size == 0:
        return np.zeros(3, np.float32)
    return inner.reshape(-1, 3).mean(axis=0) / max(1.0, float(rgb[::8, ::8].mean()))


def analyse_span(path: Path, info: VideoInfo, opts: Options, start_s: float = 0.0,
                 end_s: float | None = None) -> Observations:
    """Run the pass over ``start_s <= t < end_s`` of one recording (raises decode.MediaUnreadable)."""
    return _Pass(info, opts).run(path, start_s, end_s)
