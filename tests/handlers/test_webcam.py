"""handlers.webcam.webcam.process on short clips made by ml_service.samples.webcam (never skipped).

Each clip plants one kind of event over a calm candidate (real face photos composited into a
moving, noisy room; see the generator's docstring) and the test checks that the handler
finds that interval, and nothing else.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from handlers.webcam import webcam
from ml_service.samples.evaluation import interval_iou
from ml_service.core.results import ErrorCode, validate_result
from ml_service.samples import webcam as clips

# name: (seconds, candidate, events[, face width px]); events as in ml_service.samples.webcam
CLIPS: dict[str, tuple] = {
    "presence.mp4": (16, "astronaut", [("away", 4, 10)]),
    "clean.webm": (12, "astronaut", []),
    "wrong-person.mp4": (8, "lfw0", []),
    "replaced.mp4": (18, "lfw0", [("swap", 5, 13, "astronaut")]),
    "switched.mp4": (18, "astronaut", [("switch", 6, 14, "lfw0")]),
    "second-far.mp4": (16, "astronaut", [("second", 4, 11, "lfw0", 40)]),
    "pose.mp4": (18, "astronaut", [("yaw", 3, 8, 45), ("pitch", 11, 16, -40)]),
    "talking.mp4": (14, "astronaut", [("talk", 4, 10)]),
    "dark.mp4": (14, "astronaut", [("dark", 3, 7), ("cover", 9, 12)]),
    # lfw0 nearer the camera. At the labelled set's 170 px its smile and eye blendshapes sit at the
    # limits, and x264 with 2 threads and VBV encodes the same frames differently on every run
    # (more so under load): 2-3 of 12 runs failed (smile on 50-83 % of its samples, down to 0.0;
    # look held on 57-100 %, below the 60 % checks.py on i19c-webcam asks). At 240 px, 15 of 15:
    # smile median 0.56-0.64 vs 0.45, on 83-100 %; look p10 0.32-0.47 vs 0.20-0.28, held on
    # 93-100 % (measured 2026-12-02, half of the runs beside a CPU hog)
    "expressions.mp4": (16, "lfw0", [("smile", 3, 8), ("gaze", 10, 14, "left")], 240),
}


class _Media:
    """Clips made on first use, so each test pays only for its own (and CI never waits
    minutes inside one fixture)."""

    def __init__(self, root: Path) -> None:
        self.root, self.made = root, {}

    def __getitem__(self, name: str) -> Path:
        if name not in self.made:
            self.made[name] = self._make(name)
        return self.made[name]

    def _make(self, name: str) -> Path:
        if name in CLIPS:
            seconds, who, events, *face = CLIPS[name]
            return clips.make_clip(self.root / name, seconds, events, who=who, seed=list(CLIPS).index(name),
                                   face_px=face[0] if face else clips.FACE_PX)[0]
        if name == "corrupt.mp4":
            path = self.root / name
            path.write_bytes(self["presence.mp4"].read_bytes()[:4000] + random.Random(3).randbytes(20000))
            return path
        if name == "noface.jpg":
            path = self.root / name
            cv2.imwrite(str(path), np.full((200, 200, 3), 128, np.uint8))
            return path
        return clips.reference_photo(self.root, name)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> _Media:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        pytest.fail("ffmpeg/ffprobe not on PATH: run handlers/webcam/install.sh (handler tests are never skipped)")
    return _Media(tmp_path_factory.mktemp("webcam-media"))


def _run(media: _Media, name: str, reference: str | None = None, options: dict | None = None):
    path = media[name]
    ref = media[reference] if reference else None
    submission: dict[str, Any] = {
        "submission_id": 1, "session_id": "s", "modality": "webcam", "options": options or {},
        "recordings": [{"name": path.name, "path": str(path), "size": path.stat().st_size}],
        "reference_photo": {"name": ref.name, "path": str(ref), "size": ref.stat().st_size} if ref else None,
        "reference_voice": None, "work_dir": str(path.parent),
    }
    result, msg = webcam.process(submission)
    assert validate_result(result) == [], validate_result(result)
    assert isinstance(msg, str) and msg
    return result


def _types(result: dict) -> list[str]:
    return sorted(v["type"] for v in result["violations"])


def _one(result: dict, kind: str, start: float, end: float, min_iou: float = 0.7) -> dict:
    found = [v for v in result["violations"] if v["type"] == kind]
    assert len(found) == 1, (kind, result["violations"])
    iou = interval_iou(found[0], {"start_s": start, "end_s": end})
    assert iou >= min_iou, (kind, found[0], (start, end), iou)
    return found[0]


def test_clean_clip_with_matching_reference_has_no_violation(media):
    result = _run(media, "clean.webm", reference="astronaut2")
    assert result["violations"] == [] and result["score"] == 1.0
    assert result["media"]["reference_photo_used"] is True
    assert result["media"]["files"][0]["codec"] == "vp8"


def test_face_absent_interval(media):
    result = _run(media, "presence.mp4")
    assert _types(result) == ["face_absent"]
    _one(result, "face_absent", 3.75, 10.25, 0.8)


def test_identity_mismatch_against_someone_elses_photo(media):
    result = _run(media, "wrong-person.mp4", reference="astronaut2")
    v = _one(result, "identity_mismatch", 0, 8, 0.8)
    assert v["details"]["distance"] > 0.6
    assert _types(result) == ["identity_mismatch"]


def test_identity_change_without_reference(media):
    result = _run(media, "replaced.mp4")
    _one(result, "identity_change", 5, 13)
    assert "identity_mismatch" not in _types(result)


def test_identity_change_from_one_frame_to_the_next(media):
    result = _run(media, "switched.mp4")
    assert _types(result) == ["identity_change"]
    _one(result, "identity_change", 6, 14)


def test_small_distant_second_face(media):
    result = _run(media, "second-far.mp4")
    v = _one(result, "multiple_faces", 4, 11)
    assert v["details"]["smallest_other_face_px"] < 60
    assert _types(result) == ["multiple_faces"]


def test_head_turned_left_and_down(media):
    result = _run(media, "pose.mp4")
    turned = sorted((v for v in result["violations"] if v["type"] == "head_turned"), key=lambda v: v["start_s"])
    assert [v["details"]["direction"] for v in turned] == ["left", "down"], result["violations"]
    assert interval_iou(turned[0], {"start_s": 3, "end_s": 8}) >= 0.7
    assert interval_iou(turned[1], {"start_s": 11, "end_s": 16}) >= 0.7


def test_talking(media):
    result = _run(media, "talking.mp4")
    assert _types(result) == ["talking"]
    _one(result, "talking", 4, 10)


def test_dark_camera_is_not_face_absent(media):
    result = _run(media, "dark.mp4")
    assert _types(result) == ["camera_blocked_or_dark"] * 2
    found = sorted(result["violations"], key=lambda v: v["start_s"])
    assert interval_iou(found[0], {"start_s": 3, "end_s": 7}) >= 0.8
    assert interval_iou(found[1], {"start_s": 9, "end_s": 12}) >= 0.8


def test_smile_and_gaze_cues(media):
    result = _run(media, "expressions.mp4")
    assert _types(result) == ["expression_cues", "gaze_away"]
    assert _one(result, "expression_cues", 3, 8)["details"]["cue"] == "smile"
    assert _one(result, "gaze_away", 10, 14)["details"]["direction"] == "left"


def test_options_override_defaults(media):
    result = _run(media, "presence.mp4", options={"face_absent_min_s": 30})
    assert result["violations"] == []
    assert result["media"]["options"]["face_absent_min_s"] == 30


def test_reference_photo_without_face_is_noted(media):
    result = _run(media, "clean.webm", reference="noface.jpg")
    assert result["media"]["reference_photo_used"] is False
    assert "no face" in result["media"]["notes"][0]


def test_corrupt_video_is_an_error_result(media):
    result = _run(media, "corrupt.mp4")
    assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE
    assert result["score"] == 0.0 and "corrupt.mp4" in result["msg"]
