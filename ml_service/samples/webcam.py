"""Labelled webcam recordings: real face photos composited into a moving, noisy room.

Faces come from real photographs bundled in scikit-image (public domain): ``data.astronaut()``
(the candidate, ``astronaut``, who smiles at rest, so smiles are planted on ``lfw0``; ``astronaut2`` is the same photograph re-shot: tighter crop,
tilted, lit from one side, JPEG-compressed, the weaker stand-in for a second photo of her) and
two 25x25 faces of ``data.lfw_subset()`` (``lfw0``, ``lfw26``), upscaled and placed on a plain
head-and-shoulders card: other people. :func:`_photos` writes them once into
``<out_dir>/.cache``. Each photo becomes a head-and-shoulders sprite with a feathered mask.

Poses and expressions are made by warping the sprite's face mesh: MediaPipe's FaceLandmarker
(the analyser's model, used here only to place the mesh) gives 478 points with depth; the
points are rotated in 3D (head turned, looking down), or moved (jaw open for talking, mouth
corners up for a smile, irises sideways for gaze), and the image follows triangle by
triangle. The room has camera shake, exposure drift and sensor noise; frames are piped to
Debian ``ffmpeg`` (H.264 ``.mp4`` or VP8 ``.webm``), 640x480 at 15 fps.

A clip is a list of events over a calm candidate; each event plants its truth interval:

    away t0 t1             the candidate leaves the frame (face_absent)
    swap t0 t1 who         someone else sits down (identity_change, identity_mismatch)
    switch t0 t1 who       the same, but from one frame to the next (no empty frame between)
    second t0 t1 who px    another face, ``px`` wide, at the side or far behind (multiple_faces)
    yaw / pitch t0 t1 deg  head turned / looking down (head_turned, direction in the truth)
    gaze t0 t1 dir         irises moved left or right (gaze_away)
    talk t0 t1             jaw opening at random syllable lengths and heights (talking)
    smile t0 t1            mouth corners up (expression_cues)
    dark / cover t0 t1     lights off / lens covered (camera_blocked_or_dark)
    dim t0 t1              a lighting change that must not be reported (no truth)
    object t0 t1 name ...  a real photo of a phone, book, screen, ... (_webcam_objects.py)
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ml_service.samples._media import encode_frames, loop_concat
from ml_service.samples.truth import Sample
from ml_service.samples._webcam_objects import CHECKS as _OBJECT_CHECKS, OBJECT_SET, object_truth, paint_objects

__all__ = ["MODALITY", "generate", "long_truth", "make_clip", "make_long", "reference_photo"]

MODALITY = "webcam"
W, H, FPS = 640, 480, 15
FACE_PX = 170  # the seated candidate's face width in the labelled set and the long recordings
_PEOPLE = ("astronaut", "astronaut2", "lfw0", "lfw26")
_TRUTH = {"away": "face_absent", "swap": "identity_change", "switch": "identity_change", "second": "multiple_faces", "yaw": "head_turned",
          "pitch": "head_turned", "gaze": "gaze_away", "talk": "talking", "smile": "expression_cues",
          "dark": "camera_blocked_or_dark", "cover": "camera_blocked_or_dark"}
_SLIDE_S = 0.5


# --- source photos -------------------------------------------------------------------------


def _cache(out_dir: Path) -> Path:
    folder = Path(out_dir) / ".cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _photos(out_dir: Path) -> dict[str, Path]:
    """Photo files by person name, made once per cache folder from scikit-image's bundled data."""
    cache = _cache(out_dir)
    wanted = {name: cache / f"{name}.png" for name in _PEOPLE}
    if not all(p.exists() for p in wanted.values()):
        from skimage import data

        astronaut = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(wanted["astronaut"]), astronaut)
        cv2.imwrite(str(wanted["astronaut2"]), _reshot(astronaut))
        faces = data.lfw_subset()
        for name in ("lfw0", "lfw26"):
            cv2.imwrite(str(wanted[name]), _card(faces[int(name[3:])]))
    return wanted


def _reshot(bgr: np.ndarray) -> np.ndarray:
    """The same photograph as if taken again: tighter, tilted 4 degrees, lit from the left, JPEG q 60."""
    h, w = bgr.shape[:2]
    m = cv2.getRotationMatrix2D((w * 0.45, h * 0.35), 4.0, 1.25)
    img = cv2.warpAffine(bgr, m, (w, h), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    img *= np.linspace(1.15, 0.7, w, dtype=np.float32)[None, :, None]
    ok, jpg = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 60])
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def _card(face: np.ndarray) -> np.ndarray:
    """A 25x25 grey LFW face (0..1) upscaled to 200 px on a plain head-and-shoulders card."""
    big = cv2.resize((face * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)
    card = np.full((440, 400), int(big.mean() * 0.8), np.uint8)
    cv2.ellipse(card, (200, 440), (170, 120), 0, 180, 360, int(big.mean() * 0.5), -1)
    card[90:290, 100:300] = big
    return cv2.cvtColor(cv2.GaussianBlur(card, (0, 0), 0.8), cv2.COLOR_GRAY2BGR)


def reference_photo(out_dir: Path, who: str) -> Path:
    """A reference photo file of ``who`` (``astronaut2`` is the re-shot photo of ``astronaut``)."""
    return _photos(out_dir)[who]


def _mesh(rgb: np.ndarray) -> np.ndarray:
    """478 x 3 face points in pixels (z scaled like x; smaller z is nearer)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from handlers.webcam.faces import landmarker_model_path

    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(landmarker_model_path())),
                                           num_faces=1)
    with vision.FaceLandmarker.create_from_options(options) as model:
        result = model.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
    if not result.face_landmarks:
        raise RuntimeError("no face found in a source photo")
    h, w = rgb.shape[:2]
    return np.array([(p.x * w, p.y * h, p.z * w) for p in result.face_landmarks[0]], np.float32)


_LOWRES_GAZE_GAIN = 1.5


class _Sprite:
    """A head-and-shoulders cut-out of one photo, scaled so the face is ``face_px`` wide."""

    def __init__(self, path: Path, face_px: int, gaze_gain: float = 1.0) -> None:
        self.gaze_gain = gaze_gain
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = min(1.0, 1000 / max(img.shape[:2]))
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        pts = _mesh(img)
        fw = float(np.ptp(pts[:, 0]))
        cx, cy = float(pts[:, 0].mean()), float(pts[:, 1].mean())
        s = face_px / fw
        side = int(2.6 * face_px)
        # sprite window: face centred horizontally, in the upper part; shoulders below
        m = np.float32([[s, 0, side / 2 - s * cx], [0, s, side * 0.42 - s * cy]])
        self.rgb = cv2.warpAffine(img, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        self.pts = np.column_stack([pts[:, :2] @ m[:, :2].T + m[:, 2], pts[:, 2] * s]).astype(np.float32)
        self.alpha = _mask(side, self.pts)
        self.face_px = face_px
        self._warps: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def pose(self, yaw: float = 0, pitch: float = 0, jaw: float = 0, smile: float = 0, gaze: float = 0):
        """(rgb, alpha) with the head rotated / mouth opened / smiling / eyes turned."""
        key = (round(yaw), round(pitch), round(jaw, 2), round(smile, 2), round(gaze, 2))
        if key == (0, 0, 0, 0, 0):
            return self.rgb, self.alpha
        if key not in self._warps:
            self._warps[key] = self._warp(*key)
        return self._warps[key]

    def _warp(self, yaw: float, pitch: float, jaw: float, smile: float, gaze: float):
        src = self.pts.copy()
        dst = _rotate(src, yaw, pitch, self.face_px)
        f = self.face_px
        if smile:
            mid, half = src[[61, 291], :2].mean(axis=0), abs(src[291, 0] - src[61, 0]) / 2
            for i, (x, y, _) in enumerate(src):
                rel = (x - mid[0]) / half
                if abs(y - mid[1]) < 0.18 * f and abs(rel) < 1.6:
                    pull = min(1.0, abs(rel)) ** 2 * max(0.0, 1 - abs(y - mid[1]) / (0.18 * f))
                    dst[i, 0] += np.sign(rel) * smile * 0.05 * f * pull
                    dst[i, 1] -= smile * 0.08 * f * pull
        if gaze:
            dst[468:478, 0] += gaze * 0.065 * f * self.gaze_gain
        rgb, alpha = _mesh_warp(self.rgb, self.alpha, src, dst) if (yaw, pitch, smile, gaze) != (0, 0, 0, 0) \
            else (self.rgb.copy(), self.alpha)
        if jaw:
            rgb = _open_jaw(rgb, dst, jaw * f, f)
        return rgb, alpha


def _open_jaw(rgb: np.ndarray, pts: np.ndarray, drop: float, f: float) -> np.ndarray:
    """Lower the lower lip and chin by ``drop`` px (a smooth vertical shift below the mouth
    line, fading out below the chin) and paint the opened mouth dark."""
    x_c, y_m = float(pts[13, 0]), float((pts[13, 1] + pts[14, 1]) / 2)
    half = abs(float(pts[308, 0] - pts[78, 0])) / 2
    y_chin = float(pts[152, 1])
    side = rgb.shape[0]
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    wx = np.exp(-(((xs - x_c) / (1.6 * half)) ** 4))
    wy = np.clip((ys - y_m) / 2.0, 0, 1) * np.clip(1 - (ys - y_chin) / (0.4 * f), 0, 1)
    out = cv2.remap(rgb, xs, ys - drop * wx * wy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if drop >= 2:
        centre = (int(round(x_c)), int(round(y_m + drop / 2)))
        cv2.ellipse(out, centre, (int(0.75 * half), max(1, int(drop / 2))), 0, 0, 360, (60, 25, 30), -1, cv2.LINE_AA)
    return out


def _mask(side: int, pts: np.ndarray) -> np.ndarray:
    alpha = np.zeros((side, side), np.float32)
    cx, cy = pts[:, 0].mean(), pts[:, 1].mean()
    fw, fh = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    cv2.ellipse(alpha, (int(cx), int(cy - 0.08 * fh)), (int(0.68 * fw), int(0.78 * fh)), 0, 0, 360, 1.0, -1)
    cv2.ellipse(alpha, (int(cx), side), (int(1.25 * fw), int(side - cy - 0.35 * fh)), 0, 180, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.05 * fw)
    return alpha[..., None]


def _rotate(pts: np.ndarray, yaw: float, pitch: float, face_px: float) -> np.ndarray:
    """Rotate the mesh about a centre behind the face; + yaw turns to the person's left."""
    c = np.array([pts[:, 0].mean(), pts[:, 1].mean() + 0.1 * face_px, pts[:, 2].mean() + 0.45 * face_px], np.float32)
    a, b = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]], np.float32)
    rx = np.array([[1, 0, 0], [0, math.cos(b), math.sin(b)], [0, -math.sin(b), math.cos(b)]], np.float32)
    return (pts - c) @ (rx @ ry).T + c


def _mesh_warp(rgb: np.ndarray, alpha: np.ndarray, src: np.ndarray, dst: np.ndarray):
    """Move the image so mesh point ``src[i]`` lands on ``dst[i]`` (far triangles drawn first)."""
    from scipy.spatial import Delaunay

    side = rgb.shape[0]
    ring = _ring(src, dst, side)
    s2 = np.vstack([src[:, :2], ring[0]])
    d2 = np.vstack([dst[:, :2], ring[1]])
    depth = np.concatenate([dst[:, 2], np.full(len(ring[0]), dst[:, 2].max() + 1)])
    tris = Delaunay(s2).simplices
    order = np.argsort(-depth[tris].mean(axis=1))
    index = np.full((side, side), -1, np.int32)
    mats = np.zeros((len(tris) + 1, 2, 3), np.float32)
    mats[-1] = [[1, 0, 0], [0, 1, 0]]
    for k in order:
        t = tris[k]
        mats[k] = cv2.getAffineTransform(d2[t].astype(np.float32), s2[t].astype(np.float32))
        cv2.fillConvexPoly(index, np.round(d2[t]).astype(np.int32), int(k))
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    m = mats[index]
    mx = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
    my = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
    out = cv2.remap(rgb, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    out_alpha = cv2.remap(alpha[..., 0], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return out, out_alpha[..., None]


def _ring(src: np.ndarray, dst: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor points: a ring around the face that follows it half-way, and the fixed border."""
    c_src, c_dst = src[:, :2].mean(axis=0), dst[:, :2].mean(axis=0)
    r = 0.75 * np.ptp(src[:, 0])
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    circle = np.column_stack([np.cos(angles), 1.2 * np.sin(angles)]) * r
    border = np.array([(x, y) for x in (0, side / 2, side - 1) for y in (0, side / 2, side - 1)
                       if (x, y) != (side / 2, side / 2)], np.float32)
    ring_src = np.vstack([c_src + circle, border])
    ring_dst = np.vstack([c_src + circle + 0.5 * (c_dst - c_src), border])
    return ring_src.astype(np.float32), ring_dst.astype(np.float32)


# --- the room and the clip -----------------------------------------------------------------


@lru_cache(maxsize=4)
def _room(seed: int) -> np.ndarray:
    """A plain room: wall gradient, door, shelf with books, window, desk edge (float32 RGB)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, H + 40, dtype=np.float32)[:, None, None]
    room = np.broadcast_to((np.array([200, 190, 170], np.float32) * (1.05 - 0.25 * y)), (H + 40, W + 40, 3)).copy()
    cv2.rectangle(room, (30, 60), (170, 470), (120, 90, 70), -1)
    cv2.rectangle(room, (470, 50), (640, 160), (235, 240, 245), -1)
    cv2.rectangle(room, (440, 250), (660, 262), (90, 70, 50), -1)
    for i in range(9):
        x = 450 + i * 22
        colour = tuple(float(c) for c in rng.integers(40, 200, 3))
        cv2.rectangle(room, (x, 250 - int(rng.integers(40, 70))), (x + 18, 250), colour, -1)
    cv2.rectangle(room, (0, 440), (W + 40, H + 40), (110, 100, 95), -1)
    room += rng.normal(0, 4, room.shape).astype(np.float32)
    return cv2.GaussianBlur(room, (0, 0), 1.2)


class _Clip:
    """Renders frames of one scripted clip."""

    def __init__(self, out_dir: Path, who: str, events: list[tuple], seed: int, face_px: int = FACE_PX) -> None:
        self.events, self.seed, self.face_px = events, seed, face_px
        photos = _photos(out_dir)
        self.sprites: dict[tuple[str, int], _Sprite] = {}
        self.photos, self.who = photos, who
        rng = np.random.default_rng(seed)
        self.noise = [rng.normal(0, 3.0, (H, W, 3)).astype(np.float32) for _ in range(6)]
        self.phase = float(rng.uniform(0, 6.28))
        # speech: syllables of random length (0.12-0.4 s) and random jaw opening
        lengths = rng.uniform(0.12, 0.4, 2000)
        self.syllable_ends = np.cumsum(lengths)
        self.syllable_jaw = rng.choice([0.0, 0.03, 0.06, 0.09, 0.12], 2000, p=[0.3, 0.15, 0.2, 0.2, 0.15])

    def sprite(self, who: str, px: int) -> _Sprite:
        if (who, px) not in self.sprites:
            # an LFW face is a 25 px photograph upscaled: its irises span a few source pixels, and
            # the astronaut's iris shift leaves its eye blendshapes near their noise (measured:
            # 0.12-0.26 against a spread limit of 0.2-0.26), so its gaze is drawn 1.5x wider
            gain = _LOWRES_GAZE_GAIN if who.startswith("lfw") else 1.0
            self.sprites[(who, px)] = _Sprite(self.photos[who], px, gain)
        return self.sprites[(who, px)]

    def active(self, kind: str, t: float, margin: float = 0.0):
        return next((e for e in self.events if e[0] == kind and e[1] - margin <= t < e[2] + margin), None)

    def frame(self, i: int) -> np.ndarray:
        t = i / FPS
        dx, dy = 1.5 * math.sin(0.9 * t + self.phase), 1.0 * math.sin(1.3 * t)
        room = _room(self.seed % 4)
        img = room[20 + int(round(dy)):20 + int(round(dy)) + H, 20 + int(round(dx)):20 + int(round(dx)) + W].copy()
        for e in self.events:
            if e[0] == "second" and e[1] - 0.3 <= t < e[2] + 0.3:
                self._second(img, e, t)
        paint_objects(img, self.events, t, front=False)  # _webcam_objects.py
        self._main(img, t)
        paint_objects(img, self.events, t, front=True)
        return self._camera(img, t, i)

    def _second(self, img: np.ndarray, e: tuple, t: float) -> None:
        _, t0, t1, who, px = e[:5]
        fade = min(1.0, (t - (t0 - 0.3)) / 0.3, ((t1 + 0.3) - t) / 0.3)
        sp = self.sprite(who, px)
        near = px >= 80
        cx = 560 if near else (520 if (int(t0) // 2) % 2 == 0 else 110)
        cy = 150 if near else 100
        _paste(img, sp.rgb, sp.alpha * max(0.0, fade), cx, cy, sp.rgb.shape[0])

    def _main(self, img: np.ndarray, t: float) -> None:
        swap = self.active("swap", t, _SLIDE_S) or self.active("switch", t)
        who = self.who
        if swap and swap[1] <= t < swap[2]:
            who = swap[3]
        sp = self.sprite(who, self.face_px)
        out = 0.0  # 0 = seated, 1 = gone out of frame to the right
        for e in self.events:
            if e[0] in ("away", "swap"):
                for edge, sign in ((e[1], 1), (e[2], -1)):
                    if e[0] == "swap" and who != self.who:
                        sign = -sign
                    k = (t - edge) / _SLIDE_S
                    if -1 <= k < 0 and sign == 1:
                        out = max(out, 1 + k)
                    elif 0 <= k < 1 and sign == -1:
                        out = max(out, 1 - k)
                if e[0] == "away" and e[1] <= t < e[2]:
                    out = 1.0
        if out >= 1.0:
            return
        rgb, alpha = sp.pose(**self._pose(t))
        cx = 320 + 10 * math.sin(2 * math.pi * t / 7 + self.phase) + 3 * math.sin(2 * math.pi * t / 2.3) + out * 560
        cy = 224 + 4 * math.sin(2 * math.pi * t / 5.3)
        _paste(img, rgb, alpha, cx, cy, rgb.shape[0])

    def _pose(self, t: float) -> dict[str, float]:
        pose = {"yaw": round(3 * math.sin(2 * math.pi * t / 9 + self.phase)), "pitch": 0, "jaw": 0, "smile": 0,
                "gaze": 0}
        for kind, key in (("yaw", "yaw"), ("pitch", "pitch"), ("gaze", "gaze"), ("smile", "smile")):
            e = self.active(kind, t, 0.15)
            if e:
                ramp = min(1.0, (t - e[1] + 0.15) / 0.3, (e[2] + 0.15 - t) / 0.3)
                target = {"left": 1.0, "right": -1.0}.get(e[3], e[3]) if kind == "gaze" else (
                    1.0 if kind == "smile" else e[3])
                pose[key] = round(target * math.ceil(ramp * 3) / 3, 2)
        if self.active("talk", t):
            k = min(int(np.searchsorted(self.syllable_ends, t)), len(self.syllable_jaw) - 1)
            pose["jaw"] = float(self.syllable_jaw[k])
        return pose

    def _camera(self, img: np.ndarray, t: float, i: int) -> np.ndarray:
        gain = 1.0 + 0.06 * math.sin(2 * math.pi * t / 11 + self.phase)
        dim = self.active("dim", t)
        if dim:
            gain *= 1.0 - 0.45 * min(1.0, (t - dim[1]) / 1.0, (dim[2] - t) / 1.0)
        img *= gain
        if self.active("cover", t):
            img = np.full_like(img, 0.0) + cv2.resize(cv2.resize(img, (8, 6)), (W, H)) * 0.12 + [38, 28, 24]
        if self.active("dark", t):
            img *= 0.04
        img += self.noise[(i * 7 + self.seed) % len(self.noise)]
        return np.clip(img, 0, 255).astype(np.uint8)


def _paste(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, cx: float, cy: float, side: int) -> None:
    """Alpha-blend a sprite whose face centre is at (side/2, 0.42 side) onto (cx, cy)."""
    x0, y0 = int(round(cx - side / 2)), int(round(cy - 0.42 * side))
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(W, x0 + side), min(H, y0 + side)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    src = rgb[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0].astype(np.float32)
    a = alpha[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    region = img[ay0:ay1, ax0:ax1]
    region += a * (src - region)


def _truth(events: list[tuple], mismatch: bool, duration: float) -> list[dict]:
    truth = []
    if mismatch is True:
        truth.append({"type": "identity_mismatch", "start_s": 0.0, "end_s": duration})
    for e in events:
        if e[0] not in _TRUTH:
            continue
        t0, t1 = e[1], e[2]
        if e[0] == "away":
            t0, t1 = t0 - _SLIDE_S / 2, t1 + _SLIDE_S / 2
        event = {"type": _TRUTH[e[0]], "start_s": round(t0, 3), "end_s": round(min(t1, duration), 3)}
        if e[0] in ("yaw", "pitch", "gaze"):
            event["direction"] = _direction(e)
        truth.append(event)
        if e[0] in ("swap", "switch") and mismatch is False:
            truth.append({**event, "type": "identity_mismatch"})
    truth += object_truth(events, duration)
    return sorted(truth, key=lambda v: (v["start_s"], v["type"]))


def _direction(e: tuple) -> str:
    if e[0] == "gaze":
        return e[3]
    if e[0] == "pitch":
        return "down" if e[3] < 0 else "up"
    return "left" if e[3] > 0 else "right"


def _encoder(path: Path) -> list[str]:
    if path.suffix == ".webm":
        return ["-c:v", "libvpx", "-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8", "-g", "150",
                "-auto-alt-ref", "0"]
    return ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "1M", "-maxrate", "1.5M", "-bufsize", "2M",
            "-g", "150", "-pix_fmt", "yuv420p"]


def make_clip(path: Path, seconds: float, events: list[tuple], who: str = "astronaut", seed: int = 0,
              mismatch: bool | None = None, face_px: int = FACE_PX) -> tuple[Path, list[dict]]:
    """Encode one scripted clip at ``path`` (.mp4: H.264, .webm: VP8); return it and its truth.

    ``mismatch``: None = no reference photo; False = the reference shows ``who`` (a swap is
    then also an identity_mismatch); True = the reference shows someone else. ``face_px``: the
    seated candidate's face width (a candidate nearer the camera; the truth does not change).
    """
    path = Path(path)
    clip = _Clip(path.parent, who, events, seed, face_px)
    frames = (clip.frame(i) for i in range(int(round(seconds * FPS))))
    encode_frames(path, frames, (W, H), FPS, "rgb24", _encoder(path))
    return path, _truth(events, mismatch, seconds)


# --- the labelled set and the long recording ------------------------------------------------

# name, seconds, candidate, reference photo (None / same person / someone else), events
_SET: list[tuple[str, float, str, str | None, list[tuple]]] = [
    ("clean-still", 60, "astronaut", None, []),
    ("clean-reference.webm", 45, "astronaut", "astronaut2", []),
    ("lighting-change", 40, "astronaut", None, [("dim", 10, 25)]),
    ("leaves-and-returns", 50, "astronaut", None, [("away", 12, 24), ("away", 35, 41)]),
    ("second-person-near", 40, "astronaut", None, [("second", 10, 22, "lfw26", 110)]),
    # the 32 px face is the astronaut's photo: a 25 px LFW face drawn at 32 px is below what the
    # landmarker confirms (scanner.py), a real photo at that size is not
    ("second-person-far.webm", 45, "astronaut", None, [("second", 8, 20, "lfw0", 40),
                                                   ("second", 28, 38, "astronaut", 32)]),
    ("person-replaced", 50, "astronaut", "astronaut2", [("swap", 15, 35, "lfw0")]),
    ("replaced-no-reference.webm", 40, "lfw0", None, [("swap", 14, 30, "astronaut")]),
    ("switched-in-frame", 45, "astronaut", "astronaut2", [("switch", 15, 32, "lfw0")]),
    ("wrong-person", 30, "lfw0", "astronaut2", []),
    ("head-turned", 55, "astronaut", None, [("yaw", 8, 15, 45), ("pitch", 24, 32, -40), ("yaw", 42, 48, -45)]),
    ("talking", 45, "astronaut", None, [("talk", 10, 22), ("talk", 30, 38)]),
    ("dark-and-covered.webm", 45, "astronaut", None, [("dark", 10, 18), ("cover", 28, 36)]),
    # smiles on lfw0 (the astronaut smiles at rest); her right-gaze warp does not move the eye
    # blendshapes of that 25 px face, so the right gaze is planted on the astronaut
    ("expressions-and-gaze", 50, "lfw0", None, [("smile", 8, 14), ("gaze", 22, 28, "left")]),
    ("gaze-right", 30, "astronaut", None, [("gaze", 10, 16, "right")]),
]
_CHECKS = ["face_absent", "multiple_faces", "identity_mismatch", "identity_change", "head_turned", "gaze_away",
           "talking", "expression_cues", "camera_blocked_or_dark", *_OBJECT_CHECKS]


def generate(out_dir: Path, seed: int = 0, only: Collection[str] | None = None) -> list[Sample]:
    """The labelled set: clean controls, a lighting change, one clip per check (``only``: these names)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    for i, (name, seconds, who, ref, events) in enumerate([*_SET, *OBJECT_SET]):
        stem, _, ext = name.partition(".")
        if only is not None and f"webcam-{stem}" not in only:
            continue
        path = out_dir / f"webcam-{stem}.{ext or 'mp4'}"
        mismatch = None if ref is None else (ref.rstrip("0123456789") != who)
        _, truth = make_clip(path, seconds, events, who=who, seed=seed * 100 + i, mismatch=mismatch)
        checks = sorted({e["type"] for e in truth}) or _CHECKS
        if ref is not None:
            checks = sorted({*checks, "identity_mismatch"})
        samples.append(Sample(name=f"webcam-{stem}", modality=MODALITY, recordings=[path], duration_s=seconds,
                              truth=truth, clean=not truth, reference_photo=reference_photo(out_dir, ref) if ref else None,
                              checks=checks))
    return samples


def _long_sessions(clean: bool) -> list[tuple[str, list[tuple]]]:
    """The 2-minute sessions ``make_long`` loops: (candidate, events)."""
    if clean:
        return [("astronaut", []), ("astronaut", [("dim", 40, 60)]), ("astronaut", []), ("astronaut", [("dim", 70, 85)])]
    return [
        ("astronaut", [("away", 20, 30), ("yaw", 45, 50, 45), ("talk", 70, 78), ("second", 95, 105, "lfw26", 40)]),
        # no smile here: the labelled set covers smiles (the hour once held one on a photo that
        # already smiled broadly at rest, which no baseline-relative check can see)
        ("astronaut", [("pitch", 15, 22, -40), ("dark", 50, 55), ("swap", 80, 95, "lfw0"), ("gaze", 105, 110, "left")]),
    ]


def make_long(out_dir: Path, minutes: float, seed: int = 0, clean: bool = False) -> Path:
    """A ``minutes``-long H.264 recording: 2-minute sessions looped with concat -c copy.

    The default has eight events per four minutes (speed benchmark). ``clean=True`` loops four
    distinct clean sessions of one person (two with a lighting change) for counting false
    alarms per clean hour. :func:`long_truth` gives its truth.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sessions = _long_sessions(clean)
    kind = "clean" if clean else "part"
    parts = [make_clip(out_dir / f"long-{kind}{i}.mp4", 120, events, who=who, seed=seed * 10 + i)[0]
             for i, (who, events) in enumerate(sessions)]
    return loop_concat(parts, minutes, out_dir / f"webcam-long-{'clean-' if clean else ''}{minutes:g}min.mp4",
                       out_dir / f"long-{kind}s.txt")


def long_truth(minutes: float, clean: bool = False) -> list[dict]:
    """The truth of ``make_long(..., minutes, clean=clean)``: each session's, shifted by its place."""
    sessions = _long_sessions(clean)
    truth = []
    for k in range(max(1, math.ceil(minutes / 2))):
        offset, end = 120.0 * k, min(120.0, minutes * 60 - 120.0 * k)
        for event in _truth(sessions[k % len(sessions)][1], None, 120.0):
            if event["start_s"] < end:
                truth.append({**event, "start_s": round(event["start_s"] + offset, 3),
                              "end_s": round(min(event["end_s"], end) + offset, 3)})
    return truth
