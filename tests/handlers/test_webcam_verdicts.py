"""The webcam verdict rules that keep false alarms down (issue 19), on small constructed
observations and on frames made from scikit-image's bundled photograph (never skipped).

- a face lost while a person is in view is ``head_turned`` (away), not ``face_absent``;
- another face counts only when seen twice in a row, and only when the landmarker confirms it;
- gaze and expression cues are judged against the person's own spread and must be sustained;
- the evidence of a violation names the boxes to draw, and the report draws them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from skimage import data

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.checks import People, expressions, pose, presence
from handlers.webcam.faces import FaceObs
from handlers.webcam.identity import mismatch_confidence
from handlers.webcam.options import Options
from handlers.webcam.person import PERSON_SHARE, PersonSegmenter
from handlers.webcam.scanner import Confirmer
from handlers.webcam.small_faces import FaceBox
from ml_service.samples import realsets
from ml_service.local.report.evidence import frame_data_uri
from ml_service.local.report.timeline import CHAR_W, timeline_svg

OPTS = Options()


def _face(gaze_h: float = 0.0, smile: float = 0.0, yaw: float = 0.0, gaze_v: float = 0.0) -> FaceObs:
    return FaceObs((200.0, 100.0, 360.0, 300.0), yaw, 0.0, gaze_h, gaze_v, 0.02, smile, 0.0,
                   ((330.0, 170.0), (300.0, 170.0), (230.0, 170.0), (260.0, 170.0), (280.0, 220.0)))


def _data(samples: list[Obs], end_s: float) -> Observations:
    return Observations(obs=samples, light=[(o.t, False) for o in samples], end_s=end_s)


def _types(violations: list[dict]) -> list[str]:
    return sorted(v["type"] for v in violations)


@pytest.mark.parametrize(("share", "expected"), [(0.3, ["head_turned"]), (0.0, ["face_absent"])])
def test_a_lost_face_with_a_person_in_view_is_a_head_turn_not_an_absence(share, expected):
    samples = [Obs(t / 2, False, False, [_face()]) for t in range(8)]
    samples += [Obs(4 + t / 2, False, False, [], person=share) for t in range(10)]
    samples += [Obs(9 + t / 2, False, False, [_face()]) for t in range(8)]
    data = _data(samples, 13.0)
    found = presence(data, OPTS) + pose(data, OPTS, People(data, OPTS))
    assert _types(found) == expected
    assert 3.5 <= found[0]["start_s"] <= 4.25 and 8.75 <= found[0]["end_s"] <= 9.25
    if expected == ["head_turned"]:
        assert found[0]["details"]["direction"] == "away" and "person" in found[0]["details"]["note"]


def test_another_face_needs_two_samples_in_a_row_and_carries_its_boxes():
    other = FaceBox(500.0, 60.0, 540.0, 100.0, 0.9)
    base = [Obs(t * 2.0, False, False, [_face()]) for t in range(12)]
    for o in base:
        o.record_extra([])
    once = _data([*base], 24.0)
    once.obs[4].record_extra([other])
    assert presence(once, OPTS) == []
    twice = _data([*base], 24.0)
    twice.obs[5].record_extra([other])
    found = presence(twice, OPTS)
    assert _types(found) == ["multiple_faces"]
    boxes = found[0]["details"]["evidence"]["boxes"]
    assert {b["label"] for b in boxes} == {"face", "other face"} and [500.0, 60.0, 540.0, 100.0] in [b["box"] for b in boxes]


def test_gaze_is_judged_against_the_persons_own_spread():
    rng = np.random.default_rng(1)
    noisy = [Obs(t / 2, False, False, [_face(gaze_h=float(rng.normal(0, 0.12)))]) for t in range(60)]
    data = _data(noisy, 30.0)
    assert pose(data, OPTS, People(data, OPTS)) == []  # talking, blinking: wobbling eyes are not a look away
    away = [Obs(t / 2, False, False, [_face(gaze_h=0.9 if 20 <= t < 30 else 0.0)]) for t in range(60)]
    data = _data(away, 30.0)
    found = pose(data, OPTS, People(data, OPTS))
    assert _types(found) == ["gaze_away"] and found[0]["details"]["direction"] == "left"


def test_glances_joined_by_the_merge_gap_are_no_gaze_away_a_held_look_is():
    # every third sample looks left (a glance, a blink's eye-blendshape dip): the merge gap joins
    # them into one 5-s span, but most of its samples look ahead
    def looks(pattern: Callable[[int], bool]) -> list[dict]:
        data = _data([Obs(t / 2, False, False, [_face(gaze_h=0.9 if pattern(t) else 0.0)]) for t in range(60)], 30.0)
        return pose(data, OPTS, People(data, OPTS))

    assert looks(lambda t: 20 <= t < 30 and t % 3 == 0) == []
    held = looks(lambda t: 20 <= t < 30 and t != 25)  # 5 s, one sample back: still one look
    assert _types(held) == ["gaze_away"] and 9.5 <= held[0]["start_s"] <= 10.0 and 14.75 <= held[0]["end_s"] <= 15.25


@pytest.mark.parametrize(("seconds", "reported"), [(3.0, False), (OPTS.gaze_down_min_s + 1.0, True)])
def test_eyes_down_count_only_when_held_longer_than_a_reading_glance(seconds, reported):
    n = int(seconds * 2)
    data = _data([Obs(t / 2, False, False, [_face(gaze_v=-0.8 if 20 <= t < 20 + n else 0.0)]) for t in range(80)], 40.0)
    found = pose(data, OPTS, People(data, OPTS))
    assert _types(found) == (["gaze_away"] if reported else [])
    if reported:
        assert found[0]["details"]["direction"] == "down" and found[0]["confidence"] <= 0.5


def test_a_passing_smile_is_no_cue_a_sustained_unusual_one_is():
    def smiles(first: int, last: int) -> Observations:
        return _data([Obs(t / 2, False, False, [_face(smile=0.9 if first <= t < last else 0.05)]) for t in range(60)], 30.0)

    brief = smiles(20, 25)  # 2.5 s
    assert expressions(brief, OPTS, People(brief, OPTS)) == []
    held = smiles(20, 32)  # 6 s
    found = expressions(held, OPTS, People(held, OPTS))
    assert [v["details"]["cue"] for v in found] == ["smile"] and found[0]["confidence"] <= 0.3


@pytest.fixture(scope="module")
def astronaut_frame() -> np.ndarray:
    frame = np.full((480, 640, 3), 200, np.uint8)
    frame[40:440, 120:520] = cv2.resize(data.astronaut(), (400, 400), interpolation=cv2.INTER_AREA)
    return frame


def test_the_person_model_sees_a_person_and_not_an_empty_wall(astronaut_frame):
    segmenter = PersonSegmenter()
    assert segmenter.share(astronaut_frame) > 2 * PERSON_SHARE
    wall = np.full((480, 640, 3), 180, np.uint8)
    wall[300:, :] = 90  # a desk edge
    assert segmenter.share(wall) < PERSON_SHARE


def test_a_candidate_face_is_confirmed_by_landmarks_and_texture_is_not(astronaut_frame):
    confirmer = Confirmer()
    try:
        face = FaceBox(300.0, 80.0, 400.0, 190.0, 0.7)  # the astronaut's face in this frame
        assert confirmer.is_face(astronaut_frame, face)
        noise = np.random.default_rng(2).integers(0, 255, (480, 640, 3), dtype=np.uint8)
        assert not confirmer.is_face(noise, FaceBox(40.0, 40.0, 80.0, 80.0, 0.7))
    finally:
        confirmer.close()


def test_mismatch_confidence_grows_with_the_margin():
    values = [mismatch_confidence(d, 0.6) for d in (0.61, 0.65, 0.7, 0.8, 0.95)]
    assert values == sorted(values) and values[0] < 0.7 and values[-1] > 0.95


def test_the_evidence_frame_shows_the_boxes(tmp_path, astronaut_frame):
    path = tmp_path / "still.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (640, 480))
    for _ in range(10):
        writer.write(cv2.cvtColor(astronaut_frame, cv2.COLOR_RGB2BGR))
    writer.release()
    uri = frame_data_uri(path, 1.0, [{"box": [20, 20, 620, 460], "label": "other face"}])
    assert uri is not None
    img = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    b, g, r = img[img.shape[0] // 2, round(22 * img.shape[1] / 640)].astype(int)
    assert r - g > 60 and r - b > 40  # the red of "other face" on the box's left edge (grey background)
    b0, g0, r0 = img[img.shape[0] // 2, 2].astype(int)
    assert abs(r0 - g0) < 20  # outside the box: the grey frame


def test_long_lane_labels_get_room():
    svg = timeline_svg([("webcam: camera_blocked_or_dark", [])], 60.0, {})
    x = float(svg.split('text-anchor="end"')[0].rsplit('x="', 1)[1].split('"')[0])
    assert x >= CHAR_W * len("webcam: camera_blocked_or_dark")


@pytest.mark.parametrize("name", ["webcam.manifest.json", "webcam-faces.json"])
def test_the_real_set_manifests_are_valid(name):
    manifest = realsets.read_manifest(realsets.manifest_path("webcam").with_name(name))
    assert manifest.files and all(s["licence"] for s in manifest.sources.values())
    assert json.loads(realsets.manifest_path("webcam").with_name(name).read_text())["schema"] == realsets.MANIFEST_SCHEMA
