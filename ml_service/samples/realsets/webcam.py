"""The webcam real set: real people in front of a camera, cut and edited into labelled clips.

Sources (``webcam.manifest.json``): MEAD talking heads (3 people, 8 short clips each), three
FaceForensics++ broadcast originals, an LRS2 broadcast clip, a V-Express talking head, and two
DFDC room scenes (paid actors; their faces were swapped by the DFDC makers, the scene and the
body are real). Each clip is turned into a webcam-like recording: a 4:3 window (``crop`` in
the manifest, else the whole frame padded grey to 4:3), 15 fps, H.264 at 640x480 (500 kbit/s)
or 320x240 (150 kbit/s, a low-resolution, compressed webcam).

More clean sessions (public talks, VoxCeleb, MEAD, GRID, one person per session) and three
more event clips are listed in ``webcam_sessions.py``.

Clean samples are whole clips, untouched: nobody leaves, nobody else appears, no cover. The
FaceForensics++ clip 004 is not one: its presenter turns 35-45 degrees between two cameras
every few seconds (checked by eye), so it only carries edited events whose checks it does not
disturb (a second person, a replaced person).
Event samples are edits of real footage whose truth is exact by construction:

- leaves: the 4:3 window jumps to a part of the room with nobody in it (``away_crop``, checked
  by eye on the source frames) and back: ``face_absent``;
- head out of frame: the window moves down so the head is above its top edge while the body
  stays in view (``head_out_crop``): the person is there, so ``head_turned``, not ``face_absent``;
- second person: another real person's clip, scaled to a face ``px`` wide, blended into the
  background (0.3 s fades): ``multiple_faces``;
- replaced: one person's clips followed by another's (a cut): ``identity_change``, and
  ``identity_mismatch`` when the reference photo (a frame of another clip of the first person)
  is given; wrong person: a reference photo of someone else;
- covered: the frame fades to a dark, nearly uniform view (a hand over the lens): 
  ``camera_blocked_or_dark``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ml_service.samples.realsets.webcam_sessions import EVENTS, SESSIONS
from ml_service.samples._media import encode_frames
from ml_service.samples.truth import Sample

__all__ = ["build"]

FPS = 15
# acted fear and surprise (brows up, eyes wide, jaw open) are what the surprise cue looks for, so
# they are not clean footage; the other six acted moods are ordinary faces at a webcam
_EMOTIONS = ("neutral", "happy", "sad", "angry", "contempt", "disgusted")
# every real clip is of a person speaking (talks, interviews, read sentences) and when they speak
# is not annotated, so ``talking`` (a cue for the audio) is not scored here: it would count true
# speech as false alarms (measured: 37 "false" talking reports in 0.45 clean hours, all speech)
_ALL = ["face_absent", "multiple_faces", "identity_mismatch", "identity_change", "head_turned", "gaze_away",
        "expression_cues", "camera_blocked_or_dark"]

Piece = tuple[str, float, float, str]  # file id, source start s, seconds (0 = to the end), crop key


def _source_frames(path: Path, start: float, seconds: float) -> Iterator[np.ndarray]:
    """BGR frames of ``path`` resampled to :data:`FPS`, from ``start`` for ``seconds`` (0: to the end)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = cap.get(cv2.CAP_PROP_FRAME_COUNT) / fps
    end = total if seconds <= 0 else min(total, start + seconds)
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(round(start * fps)))
    index, t_next, frame = int(round(start * fps)), start, None
    while t_next < end - 1e-6:
        ok, got = cap.read()
        if not ok:
            break
        t_frame, index = index / fps, index + 1
        frame = got
        while t_next <= t_frame + 0.5 / fps and t_next < end - 1e-6:
            yield frame
            t_next += 1 / FPS
    cap.release()


def _window(frame: np.ndarray, crop: list[int] | None, size: tuple[int, int]) -> np.ndarray:
    """The 4:3 window ``crop`` (x, y, w, h) of a frame, or the whole frame padded grey to 4:3."""
    if crop:
        x, y, w, h = crop
        return cv2.resize(frame[y:y + h, x:x + w], size, interpolation=cv2.INTER_AREA)
    fh, fw = frame.shape[:2]
    scale = min(size[0] / fw, size[1] / fh)
    inner = cv2.resize(frame, (round(fw * scale), round(fh * scale)), interpolation=cv2.INTER_AREA)
    out = np.full((size[1], size[0], 3), 96, np.uint8)
    y0, x0 = (size[1] - inner.shape[0]) // 2, (size[0] - inner.shape[1]) // 2
    out[y0:y0 + inner.shape[0], x0:x0 + inner.shape[1]] = inner
    return out


class _Editor:
    """Renders one sample: pieces one after the other, then overlays and covers by time."""

    def __init__(self, files: dict[str, Path], meta: dict[str, dict], size: tuple[int, int]) -> None:
        self.files, self.meta, self.size = files, meta, size

    def pieces(self, pieces: list[Piece]) -> Iterator[np.ndarray]:
        for fid, start, seconds, crop_key in pieces:
            crop = self.meta[fid].get(crop_key) if crop_key else None
            for frame in _source_frames(self.files[fid], start, seconds):
                yield _window(frame, crop, self.size)

    def overlay(self, frames: Iterator[np.ndarray], fid: str, t0: float, t1: float, face_px: int,
                centre: tuple[float, float]) -> Iterator[np.ndarray]:
        """Blend another person's clip (face about ``face_px`` wide) into the frames in [t0, t1)."""
        other = _source_frames(self.files[fid], 0.0, 0.0)
        scale = face_px / float(self.meta[fid].get("face_px", 150))
        for i, frame in enumerate(frames):
            t = i / FPS
            if t0 - 0.3 <= t < t1 + 0.3:
                sprite = next(other, None)
                if sprite is not None:
                    fade = max(0.0, min(1.0, (t - (t0 - 0.3)) / 0.3, ((t1 + 0.3) - t) / 0.3))
                    frame = _paste(frame, cv2.resize(sprite, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                                   centre, fade)
            yield frame

    @staticmethod
    def cover(frames: Iterator[np.ndarray], t0: float, t1: float) -> Iterator[np.ndarray]:
        """A hand over the lens in [t0, t1): the view goes dark and nearly uniform (0.3 s ramps)."""
        for i, frame in enumerate(frames):
            t = i / FPS
            k = max(0.0, min(1.0, (t - t0 + 0.3) / 0.3, (t1 + 0.3 - t) / 0.3)) if t0 - 0.3 <= t < t1 + 0.3 else 0.0
            if k > 0:
                dark = cv2.resize(cv2.resize(frame, (8, 6), interpolation=cv2.INTER_AREA), frame.shape[1::-1]) * 0.1 + 20
                frame = (frame * (1 - k) + dark * k).astype(np.uint8)
            yield frame


def _paste(frame: np.ndarray, sprite: np.ndarray, centre: tuple[float, float], alpha: float) -> np.ndarray:
    """Blend ``sprite`` (an elliptical cut-out, soft edge) onto ``frame`` centred at ``centre`` (fractions)."""
    h, w = sprite.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.42), int(h * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, w * 0.05))[..., None] * alpha
    fh, fw = frame.shape[:2]
    x0, y0 = int(centre[0] * fw - w / 2), int(centre[1] * fh - h / 2)
    ax0, ay0, ax1, ay1 = max(0, x0), max(0, y0), min(fw, x0 + w), min(fh, y0 + h)
    out = frame.astype(np.float32)
    region = out[ay0:ay1, ax0:ax1]
    part, m = sprite[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0], mask[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    region += m * (part - region)
    return out.astype(np.uint8)


def _encode(path: Path, frames: Iterator[np.ndarray], size: tuple[int, int]) -> float:
    """Encode BGR frames as H.264 (a webcam's bitrate for the size); return the duration in s."""
    count = [0]

    def counted() -> Iterator[np.ndarray]:
        for frame in frames:
            count[0] += 1
            yield frame

    rate = "500k" if size[0] >= 640 else "150k"
    encode_frames(path, counted(), size, FPS, "bgr24",
                  ["-c:v", "libx264", "-preset", "veryfast", "-b:v", rate, "-g", "150", "-pix_fmt", "yuv420p"])
    return count[0] / FPS


def _reference(files: dict[str, Path], fid: str, t: float, out: Path) -> Path:
    frame = next(_source_frames(files[fid], t, 1.0))
    cv2.imwrite(str(out), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return out


def _mead(who: str, emotions: tuple[str, ...] = _EMOTIONS) -> list[Piece]:
    return [(f"mead-{who}-{e}", 0.0, 0.0, "") for e in emotions]


_LOW = (320, 240)
_SD = (640, 480)

# name: (size, pieces, edits, truth, reference photo (file id, t) or None)
_CLEAN: dict[str, tuple[tuple[int, int], list[Piece]]] = {
    "mead-M030": (_SD, _mead("M030")),
    "mead-W009": (_SD, _mead("W009")),
    "mead-W011-lowres": (_LOW, _mead("W011")),
    "ffpp-519-lowres": (_LOW, [("ffpp-519", 0.0, 0.0, "")]),
    "lrs2-129": (_SD, [("lrs2-129", 0.0, 0.0, "")]),
    "vx-aoc": (_SD, [("vx-aoc", 0.0, 0.0, "")]),
    "dfdc-lynaeydofd": (_SD, [("dfdc-lynaeydofd", 0.0, 0.0, "crop")]),
    "dfdc-widuwuoiur-lowres": (_LOW, [("dfdc-widuwuoiur", 0.0, 0.0, "crop")]),
    "dfdc-abofeumbvv-dim": (_SD, [("dfdc-abofeumbvv", 0.0, 0.0, "crop")]),
    "dfdc-abqwwspghj": (_SD, [("dfdc-abqwwspghj", 0.0, 0.0, "crop")]),
    "dfdc-brtujopkby-lowres": (_LOW, [("dfdc-brtujopkby", 0.0, 0.0, "crop")]),
}


def _event_recipes() -> list[tuple[str, tuple[int, int], list[Piece], list[tuple], list[dict], tuple | None]]:
    wid, lyn = "dfdc-widuwuoiur", "dfdc-lynaeydofd"
    return [
        ("leaves-desk", _SD, [(wid, 0, 3, "crop"), (wid, 3, 4, "away_crop"), (wid, 7, 0, "crop")], [],
         [{"type": "face_absent", "start_s": 3.0, "end_s": 7.0}], None),
        ("leaves-couch", _SD, [(lyn, 0, 4, "crop"), (lyn, 4, 4, "away_crop"), (lyn, 8, 0, "crop")], [],
         [{"type": "face_absent", "start_s": 4.0, "end_s": 8.0}], None),
        ("head-out-of-frame", _SD, [(wid, 0, 3, "crop"), (wid, 3, 4, "head_out_crop"), (wid, 7, 0, "crop")], [],
         [{"type": "head_turned", "start_s": 3.0, "end_s": 7.0}], None),
        ("second-person-small", _SD, [("ffpp-634", 0, 0, "crop")], [("overlay", "mead-W009-neutral", 4.0, 8.0, 45, (0.88, 0.25))],
         [{"type": "multiple_faces", "start_s": 4.0, "end_s": 8.0}], None),
        ("second-person-near", _SD, [("ffpp-004", 0, 0, "crop")], [("overlay", "lrs2-129", 3.0, 9.0, 110, (0.15, 0.3))],
         [{"type": "multiple_faces", "start_s": 3.0, "end_s": 9.0}], None),
        ("replaced-with-reference", _SD, _mead("M030", ("neutral", "happy", "sad")) + _mead("W009", ("neutral", "happy", "sad")),
         [], "cut:M030->W009", ("mead-M030-angry", 2.0)),
        ("wrong-person", _SD, _mead("M030", ("neutral", "contempt", "disgusted")), [], "whole:identity_mismatch",
         ("mead-W011-neutral", 2.0)),
        ("replaced-no-reference", _SD, [("ffpp-634", 0, 8, "crop"), ("ffpp-004", 0, 8, "crop")], [],
         [{"type": "identity_change", "start_s": 8.0, "end_s": 16.0}], None),
        ("covered", _SD, [("ffpp-519", 0, 20, "")], [("cover", 8.0, 13.0)],
         [{"type": "camera_blocked_or_dark", "start_s": 8.0, "end_s": 13.0}], None),
        # annotated by eye (frames at 0.5 s steps): from 6 s she looks down to her right, twice
        ("looks-down", _SD, [("dfdc-yhffcuhhjy", 0, 0, "crop")], [],
         [{"type": "head_turned", "start_s": 6.0, "end_s": 10.0}], None),
        ("clean-with-reference", _SD, _mead("W011", ("neutral", "happy", "sad", "angry")), [], [], ("mead-W011-contempt", 2.0)),
        # annotated by eye (frames at 1 s steps): a BBC newsroom behind the presenter, wall monitors
        # and colleagues at their desks in view throughout; not a clean clip for the object checks
        ("newsroom", _SD, [("ffpp-634", 0.0, 0.0, "crop")], [], "whole:person_in_background,second_screen_visible",
         None),
    ]


def _meta(files: dict[str, Path]) -> dict[str, dict]:
    from ml_service.samples.realsets import manifest_path, read_manifest

    meta = {f.id: dict(f.extra) for f in read_manifest(manifest_path("webcam")).files}
    for fid in meta:
        meta[fid].setdefault("face_px", 215 if fid == "lrs2-129" else 155)
    return meta


def _render(editor: _Editor, path: Path, pieces: list[Piece], edits: list[tuple]) -> float:
    frames = editor.pieces(pieces)
    for edit in edits:
        if edit[0] == "overlay":
            frames = editor.overlay(frames, *edit[1:])
        elif edit[0] == "cover":
            frames = editor.cover(frames, *edit[1:])
    return _encode(path, frames, editor.size)


def _truth_of(spec: list[dict] | str, seconds: float, cut_s: float) -> list[dict]:
    if isinstance(spec, list):
        return spec
    if spec.startswith("whole:"):
        return [{"type": kind, "start_s": 0.0, "end_s": round(seconds, 3)} for kind in spec[6:].split(",")]
    return [{"type": kind, "start_s": round(cut_s, 3), "end_s": round(seconds, 3)}
            for kind in ("identity_change", "identity_mismatch")]


def build(files: dict[str, Path], out_dir: Path) -> list[Sample]:
    """Clean clips and edited event clips (see the module docstring); truth by construction."""
    meta, out = _meta(files), []
    for name, (size, pieces) in {**_CLEAN, **SESSIONS(list(files))}.items():
        path = Path(out_dir) / f"real-{name}.mp4"
        seconds = _render(_Editor(files, meta, size), path, pieces, [])
        out.append(Sample(name=f"real-{name}", modality="webcam", recordings=[path], duration_s=seconds,
                          truth=[], clean=True, checks=_ALL))
    for name, size, pieces, edits, spec, ref in _event_recipes() + EVENTS(list(files)):
        path = Path(out_dir) / f"real-{name}.mp4"
        seconds = _render(_Editor(files, meta, size), path, pieces, edits)
        cut_s = sum(_seconds(files[p[0]]) for p in pieces[:3]) if spec == "cut:M030->W009" else 0.0
        truth = _truth_of(spec, seconds, cut_s)
        photo = _reference(files, ref[0], ref[1], Path(out_dir) / f"real-{name}.ref.jpg") if ref else None
        checks = sorted({e["type"] for e in truth} | ({"identity_mismatch"} if photo else set())) or _ALL
        out.append(Sample(name=f"real-{name}", modality="webcam", recordings=[path], duration_s=seconds, truth=truth,
                          clean=not truth, reference_photo=photo, checks=checks))
    return out


def _seconds(path: Path) -> float:
    """Duration of a source clip as :func:`_source_frames` resamples it."""
    return sum(1 for _ in _source_frames(path, 0.0, 0.0)) / FPS
