"""ml_service.samples.truth: the Sample record, truth-file round trip, and the handler's input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ml_service.core import job
from ml_service.samples.truth import TRUTH_SCHEMA, Sample, handler_input, read_truth, write_truth
from ml_service.core.submission import Pulled, SessionSpec


def _sample(folder: Path) -> Sample:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cam.webm").write_bytes(b"v" * 123)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "photo.jpg").write_bytes(b"p" * 7)
    return Sample(
        name="webcam-leaves", modality="webcam", recordings=[folder / "cam.webm"], duration_s=30,
        truth=[{"type": "face_absent", "start_s": 10, "end_s": 18.5, "details": {"why": "left"}}],
        options={"face_absent_min_s": 5}, reference_photo=str(folder / "refs" / "photo.jpg"),
        checks=["face_absent"],
    )


def test_round_trip_stores_relative_paths_and_survives_a_move(tmp_path):
    original = _sample(tmp_path / "set")
    path = write_truth(original, tmp_path / "set")
    assert path == tmp_path / "set" / "webcam-leaves.truth.json"
    stored = json.loads(path.read_text())
    assert stored["schema"] == TRUTH_SCHEMA
    assert stored["recordings"] == ["cam.webm"] and stored["reference_photo"] == "refs/photo.jpg"
    assert read_truth(path) == original

    shutil.move(tmp_path / "set", tmp_path / "moved")
    moved = read_truth(tmp_path / "moved" / "webcam-leaves.truth.json")
    assert moved.recordings == [tmp_path / "moved" / "cam.webm"] and moved.recordings[0].exists()
    assert moved.reference_photo == tmp_path / "moved" / "refs" / "photo.jpg"
    assert moved.truth == original.truth and moved.options == original.options


def test_media_outside_the_truth_folder_is_stored_relative_too(tmp_path):
    original = _sample(tmp_path / "media")
    path = write_truth(original, tmp_path / "truth")
    assert json.loads(path.read_text())["recordings"] == ["../media/cam.webm"]
    assert read_truth(path).recordings[0].resolve() == (tmp_path / "media" / "cam.webm").resolve()


def test_sample_normalises_and_validates(tmp_path):
    s = Sample("a", "audio", [str(tmp_path / "a.wav")], 3, [{"type": "x", "start_s": 1, "end_s": 2}])
    assert s.recordings == [tmp_path / "a.wav"] and s.truth[0]["start_s"] == 1.0
    assert s.options == {} and s.checks == [] and s.clean is False
    with pytest.raises(ValueError, match="clean"):
        Sample("a", "audio", [], 3, [{"type": "x", "start_s": 1, "end_s": 2}], clean=True)
    with pytest.raises(ValueError, match="start_s <= end_s"):
        Sample("a", "audio", [], 3, [{"type": "x", "start_s": 2, "end_s": 1}])
    with pytest.raises(ValueError, match="numeric"):
        Sample("a", "audio", [], 3, [{"type": "x", "start_s": 2}])
    with pytest.raises(ValueError, match="type"):
        Sample("a", "audio", [], 3, [{"start_s": 0, "end_s": 1}])
    with pytest.raises(ValueError, match="file name"):
        Sample("../a", "audio", [], 3, [])


def test_read_truth_rejects_other_json(tmp_path):
    (tmp_path / "x.truth.json").write_text('{"name": "x"}')
    with pytest.raises(ValueError, match="not a ml-service/truth/1"):
        read_truth(tmp_path / "x.truth.json")


class _LocalFetcher:
    """Stands in for MediaFetcher: 'downloads' by copying a local file."""

    def fetch(self, name: str, url: str, dest_dir: Path) -> Path:
        target = dest_dir / name
        shutil.copyfile(url, target)
        return target


def _worker_input(sample: Sample, work_dir: Path) -> dict:
    files = {p.name: str(p) for p in [*sample.recordings, sample.reference_photo] if p}
    pulled = Pulled(header="{}", submission_id=7, submission_key="ab", body="{}", files=files)
    spec = SessionSpec(session_id=sample.name, modality=sample.modality, options=sample.options,
                       reference_photo=sample.reference_photo.name, reference_voice=None,
                       recordings=[p.name for p in sample.recordings])
    return job.handler_input(pulled, spec, _LocalFetcher(), work_dir, sample.modality)


def test_handler_input_is_shaped_exactly_like_the_workers(tmp_path):
    sample = _sample(tmp_path / "set")
    ours = handler_input(sample, tmp_path / "work", submission_id=7)
    (tmp_path / "worker-job").mkdir()
    theirs = _worker_input(sample, tmp_path / "worker-job")

    assert set(ours) == set(theirs)
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}
    assert [set(item) for item in ours["recordings"]] == [set(item) for item in theirs["recordings"]]
    assert set(ours["reference_photo"]) == set(theirs["reference_photo"])
    assert ours["reference_voice"] is None and theirs["reference_voice"] is None
    for key in ("submission_id", "session_id", "modality", "options"):
        assert ours[key] == theirs[key]
    for item in (*ours["recordings"], ours["reference_photo"]):
        assert Path(item["path"]).is_absolute() and Path(item["path"]).stat().st_size == item["size"]
    assert ours["recordings"][0] == {"name": "cam.webm", "path": str(tmp_path / "set" / "cam.webm"), "size": 123}
    assert Path(ours["work_dir"]).is_dir() and ours["work_dir"] == str(tmp_path / "work")
    assert json.loads(json.dumps(ours)) == ours  # serialisable, as for a child process


def test_handler_input_options_are_a_copy(tmp_path):
    sample = _sample(tmp_path)
    handler_input(sample, tmp_path / "w")["options"]["face_absent_min_s"] = 99
    assert sample.options == {"face_absent_min_s": 5}
