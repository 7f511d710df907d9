"""The object detector and the phone / book / screen / person checks (never skipped).

Real photographs (tests/data/webcam_objects/MANIFEST.md: webcam frames of a phone and of a
wallet held up, one of a hand with an earbud case, a COCO photo of a book) show what the
vendored YOLOX-Nano finds; the clip tests composite the committed real cut-outs (ml_service/samples/
_webcam_objects.py) into a generated webcam clip and run the whole handler.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handlers.webcam import webcam
from handlers.webcam.detector import MODEL_PATH, Detection, ObjectDetector
from handlers.webcam.objects import PHONE_CONFIDENCE, ObjectSample, ObjectScan, object_checks
from handlers.webcam.options import Options
from ml_service.local.report.evidence import _evidence_frame, frame_data_uri
from ml_service.samples import _webcam_objects as objects
from ml_service.samples import webcam as clips

DATA = Path(__file__).resolve().parent.parent / "data" / "webcam_objects"
OPTS = Options()
MODEL_SHA256 = "695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14"


@pytest.fixture(scope="module")
def detector() -> ObjectDetector:
    return ObjectDetector(0.25)


@pytest.fixture(scope="module")
def landmarker():
    from handlers.webcam.faces import Landmarker

    model = Landmarker(1, video=False)
    yield model
    model.close()


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union


def test_vendored_model_is_the_one_in_provenance():
    assert hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() == MODEL_SHA256
    provenance = (MODEL_PATH.parent / "PROVENANCE.md").read_text()
    assert MODEL_SHA256 in provenance and (MODEL_PATH.parent / "LICENSE-yolox").is_file()


def test_finds_the_phone_held_up_in_a_real_webcam_frame(detector):
    found = [d for d in detector.detect(cv2.imread(str(DATA / "phone.jpg"))) if d.label == "cell phone"]
    assert found and found[0].score >= OPTS.phone_min_score
    assert _iou(found[0].box, (258, 175, 438, 417)) > 0.7  # the dataset's own label


def test_finds_the_book_in_a_real_photo(detector):
    found = [d for d in detector.detect(cv2.imread(str(DATA / "book.jpg"))) if d.label == "book"]
    assert found and found[0].score >= OPTS.book_min_score
    assert _iou(found[0].box, (173, 306, 306, 400)) > 0.6  # COCO's box


@pytest.mark.parametrize("image", ["earbuds", "astronaut", "coffee", "room"])
def test_nothing_to_report_in_clean_frames(detector, landmarker, image, tmp_path):
    """A hand with an earbud case near the face, a person alone, a coffee cup, the generated
    room with its shelf of books: no phone, book, screen or second person."""
    if image == "earbuds":
        bgr = cv2.imread(str(DATA / "earbuds.jpg"))
    elif image == "room":
        clip = clips._Clip(tmp_path, "astronaut", [], seed=1)  # its photos are cached in tmp_path
        bgr = cv2.cvtColor(clip.frame(30), cv2.COLOR_RGB2BGR)
    else:
        from skimage import data

        bgr = cv2.cvtColor(getattr(data, image)(), cv2.COLOR_RGB2BGR)
    h, w = bgr.shape[:2]
    faces = landmarker.detect(np.ascontiguousarray(bgr[..., ::-1]))  # the face as the handler sees it
    sample = ObjectSample(1.0, w, h, detector.detect(bgr), face=faces[0].box if faces else None)
    found = object_checks([sample, ObjectSample(3.0, w, h, sample.found, sample.face)], 4.0, OPTS)
    assert found == []


def _det(label: str, score: float, box=(100, 100, 300, 300)) -> Detection:
    return Detection(label, score, *map(float, box))


def _samples(times, found, face=(270, 60, 370, 180)):
    return [ObjectSample(t, 640, 480, list(found(t)), face) for t in times]


def test_one_stray_detection_is_not_reported():
    samples = _samples([0, 2, 4, 6, 8], lambda t: [_det("cell phone", 0.9)] if t == 4 else [])
    assert object_checks(samples, 10, OPTS) == []


def test_held_phone_interval_details_carry_box_and_frame_time():
    samples = _samples([0, 2, 4, 6, 8, 10], lambda t: [_det("cell phone", 0.6 + t / 100)] if 4 <= t <= 8 else [])
    (v,) = object_checks(samples, 12, OPTS)
    assert v["type"] == "phone_visible" and 2.9 <= v["start_s"] <= 4 and 8 <= v["end_s"] <= 9.1
    assert v["details"]["box"] == [100, 100, 300, 300] and v["details"]["frame_s"] == 8
    assert v["details"]["detections"] == 3 and v["confidence"] == PHONE_CONFIDENCE  # phones: a cue


def test_a_monitor_missed_by_one_scan_is_still_one_object():
    # scout samples every 0.5 s; the monitor behind the person scores under the threshold at 9.5-11 s
    times = [t / 2 for t in range(28)]
    seen = lambda t: [] if 9.5 <= t <= 11 else [_det("tv", 0.6, (0, 150, 150, 300))]  # noqa: E731
    (v,) = object_checks(_samples(times, seen), 14, OPTS)
    assert v["type"] == "second_screen_visible" and v["start_s"] == 0 and v["end_s"] == 14
    gone = lambda t: [] if 6 <= t <= 12 else [_det("tv", 0.6, (0, 150, 150, 300))]  # noqa: E731
    assert len(object_checks(_samples(times, gone), 14, OPTS)) == 2  # away for 6 s: two sightings


@pytest.mark.parametrize("image", ["wallet", "phone"])
def test_a_wallet_held_up_reads_as_a_phone_so_a_phone_is_only_a_cue(detector, landmarker, image):
    """The detector's known limit, on real webcam frames of the same person: a wallet held up
    is called a phone as confidently as a phone is (its box on the wallet). So both give
    phone_visible at the low PHONE_CONFIDENCE, well below a book's or a screen's."""
    bgr = cv2.imread(str(DATA / f"{image}.jpg"))
    h, w = bgr.shape[:2]
    faces = landmarker.detect(np.ascontiguousarray(bgr[..., ::-1]))
    found = detector.detect(bgr)
    phones = [d for d in found if d.label == "cell phone"]
    assert phones and phones[0].score >= OPTS.phone_min_score
    labelled = {"wallet": (56, 194, 252, 331), "phone": (258, 175, 438, 417)}[image]  # the dataset's boxes
    assert _iou(phones[0].box, labelled) > 0.6
    scans = [ObjectSample(t, w, h, found, faces[0].box if faces else None) for t in (1.0, 3.0)]
    (v,) = [v for v in object_checks(scans, 4.0, OPTS) if v["type"] == "phone_visible"]
    assert v["confidence"] == PHONE_CONFIDENCE <= 0.3 and "not proof" in v["details"]["note"]
    book = object_checks(_samples([0, 2, 4], lambda t: [_det("book", 0.4)]), 6, OPTS)
    assert book[0]["confidence"] > 2 * PHONE_CONFIDENCE


def test_screens_but_not_the_laptop_edge_under_the_camera():
    wide_edge = _det("laptop", 0.9, (40, 380, 620, 480))
    side = _det("tv", 0.7, (0, 150, 150, 300))
    assert object_checks(_samples([0, 2, 4], lambda t: [wide_edge]), 6, OPTS) == []
    (v,) = object_checks(_samples([0, 2, 4], lambda t: [wide_edge, side]), 6, OPTS)
    assert v["type"] == "second_screen_visible" and v["details"]["label"] == "tv"


def test_person_in_background_is_the_second_source_for_multiple_faces():
    candidate = _det("person", 0.9, (200, 40, 440, 480))   # holds the face
    behind = _det("person", 0.8, (500, 100, 620, 400))
    samples = _samples([0, 2, 4, 6], lambda t: [candidate, behind])
    (v,) = object_checks(samples, 8, OPTS)
    assert v["type"] == "person_in_background" and v["details"]["box"] == [500, 100, 620, 400]
    faces = [{"type": "multiple_faces", "start_s": 0.0, "end_s": 8.0}]
    assert object_checks(samples, 8, OPTS, faces) == []
    later = _samples([0, 2, 4, 6, 8, 10], lambda t: [candidate, behind])
    (v,) = object_checks(later, 12, OPTS, [{"type": "multiple_faces", "start_s": 0.0, "end_s": 5.0}])
    assert v["start_s"] == 5.0 and v["end_s"] == 12  # only where no second face was seen
    assert object_checks(_samples([0, 2, 4], lambda t: [candidate]), 6, OPTS) == []
    no_face = _samples([0, 2, 4], lambda t: [candidate, behind], face=None)
    assert [v["type"] for v in object_checks(no_face, 6, OPTS)] == ["person_in_background"]


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, bgr, min_score=None):
        self.calls += 1
        return [_det("cell phone", 0.9)] if self.calls in (3, 4) else []


def test_scan_is_sparse_unless_something_changed_or_was_seen():
    counting = _Counting()
    scan = ObjectScan(OPTS, lambda: counting)
    still = np.full((480, 640), 120, np.uint8)
    rgb = np.zeros((480, 640, 3), np.uint8)
    for t in range(0, 40, 2):  # a still scene, scout samples every 2 s: one scan per object_scan_s
        scan.maybe_scan(float(t), rgb, None, False, still)
    assert counting.calls == 7  # t = 0, 8, 16 (seen), 18 (seen again), 20 (gone), then every 8 s: 28, 36
    moved = still.copy()
    moved[300:460, 20:220] = 30  # something came into view
    before = counting.calls
    scan.maybe_scan(44.0, rgb, None, False, moved)
    assert counting.calls == before + 1


def test_clip_with_a_real_monitor_photo(tmp_path):
    """The whole handler on a generated clip with a real laptop photo beside the candidate:
    one second_screen_visible around the truth, its box on the laptop, and a thumbnail."""
    events = [("object", 5, 13, "laptop_a", 540, 340, 170)]
    path, truth = clips.make_clip(tmp_path / "screen.mp4", 18, events, who="astronaut", seed=5)
    assert truth == [{"type": "second_screen_visible", "start_s": 5.0, "end_s": 13.0}]
    result, _ = webcam.process({"recordings": [{"path": str(path)}]})
    found = [v for v in result["violations"] if v["type"] in objects.CHECKS]
    assert [v["type"] for v in found] == ["second_screen_visible"]
    v = found[0]
    assert v["start_s"] < 8 and v["end_s"] > 11
    assert _iou(v["details"]["box"], (455, 255, 625, 425)) > 0.5 and 5 <= v["details"]["frame_s"] <= 13
    at, boxes = _evidence_frame(v, {}, v["start_s"])
    uri = frame_data_uri(path, at, boxes)
    jpeg = base64.b64decode(uri.split(",", 1)[1])
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape[1] == 240 and (thumb[..., 2] > 180).sum() > 200  # the red box is drawn


def test_cut_outs_match_their_manifest():
    records = json.loads((objects.DATA / "objects.json").read_text())["objects"]
    assert {r["kind"] for r in records} >= {"phone", "wallet", "book", "screen", "person", "hand", "mug"}
    for r in records:
        assert hashlib.sha256((objects.DATA / r["file"]).read_bytes()).hexdigest() == r["sha256"]
        assert r["licence"].startswith("CC-BY") and r["attribution"] and len(r["commit"]) == 40
        if "mask" in r:
            assert hashlib.sha256((objects.DATA / r["mask"]).read_bytes()).hexdigest() == r["mask_sha256"]


@pytest.mark.parametrize("name", ["phone_a", "wallet_a"])
def test_held_objects_are_cut_out_of_their_wall(name):
    """A masked cut-out shows the hand and the object only: the wall in the crop's upper
    corners is transparent, the object at the labelled box's centre is opaque; a wallet is a
    negative (no truth)."""
    record = objects.catalogue()[name]
    x0, y0, x1, y1 = record["region"]
    rgb, alpha = objects._sprite(name, 0)
    assert alpha.shape[:2] == rgb.shape[:2] and abs(rgb.shape[0] - (y1 - y0)) <= 2
    h, w = alpha.shape[:2]
    assert alpha[:h // 8, :w // 8].max() < 0.05 and alpha[:h // 8, -w // 8:].max() < 0.05
    cy, cx = int(h * 0.7 / 2.1), w // 2  # the region spans 0.7 box heights above the centre, 1.4 below
    assert alpha[cy, cx] > 0.95
    truth = objects.object_truth([("object", 2, 6, name, 200, 300, 0)], 10)
    assert truth == ([{"type": "phone_visible", "start_s": 2.0, "end_s": 6.0}] if name.startswith("phone") else [])
