"""handlers.debug.debug.process on small real media made by ffmpeg (never skipped)."""

from __future__ import annotations

import hashlib
import json
import pkgutil
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from handlers.debug import debug
from ml_service.sandbox.demo_media import make_demo_media, make_photo
from ml_service.core.errors import SubmissionError
from ml_service.core.results import ErrorCode, validate_result

SECONDS = 3.0


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not on PATH: install the Debian package 'ffmpeg' "
            "(apt-get install -y ffmpeg); handler tests must not be skipped"
        )
    root = tmp_path_factory.mktemp("debug-media")
    wav, mp4 = make_demo_media(root, seconds=SECONDS)["debug"]
    mp4_bytes = mp4.read_bytes()
    corrupt = root / "corrupt"
    corrupt.mkdir()
    truncated = corrupt / "truncated.mp4"
    truncated.write_bytes(mp4_bytes[: len(mp4_bytes) // 3])
    noise = corrupt / "noise.webm"
    noise.write_bytes(random.Random(11).randbytes(32 * 1024))
    photo = make_photo(root / "photo.jpg")
    return {"wav": wav, "mp4": mp4, "photo": photo, "truncated": truncated, "noise": noise}


def _item(path: Path, name: str | None = None) -> dict[str, Any]:
    size = path.stat().st_size if path.exists() else 0
    return {"name": name or path.name, "path": str(path), "size": size}


def _submission(
    recordings: list[Path], photo: Path | None = None, voice: Path | None = None
) -> dict[str, Any]:
    return {
        "submission_id": 17,
        "session_id": "exam42-student7",
        "modality": "debug",
        "options": {},
        "recordings": [_item(p) for p in recordings],
        "reference_photo": _item(photo) if photo else None,
        "reference_voice": _item(voice, "enrol.wav") if voice else None,
        "work_dir": str(recordings[0].parent) if recordings else "/nonexistent",
    }


def _assert_valid_clean_result(result: dict[str, Any]) -> None:
    assert validate_result(result) == []
    assert result["error_code"] == ErrorCode.OK and result["modality"] == "debug"
    assert result["violations"] == [] and result["stats"] == {} and result["score"] == 1.0
    assert json.loads(json.dumps(result)) == result  # travels as JSON between processes


def test_process_is_what_ml_analyzer_names() -> None:
    assert pkgutil.resolve_name("handlers.debug.debug.process") is debug.process


def test_reports_every_recording_and_reference(media: dict[str, Path]) -> None:
    submission = _submission([media["mp4"], media["wav"]], photo=media["photo"], voice=media["wav"])
    result, msg = debug.process(json.loads(json.dumps(submission)))
    _assert_valid_clean_result(result)
    files = result["media"]["files"]
    assert [(f["role"], f["name"]) for f in files] == [
        ("recording", "clip.mp4"),
        ("recording", "tone.wav"),
        ("reference_photo", "photo.jpg"),
        ("reference_voice", "enrol.wav"),
    ]
    assert result["media"]["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    for f, path in zip(
        files, [media["mp4"], media["wav"], media["photo"], media["wav"]], strict=True
    ):
        assert f["readable"] is True
        assert f["size_bytes"] == path.stat().st_size
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    video, audio = files[0]["streams"]
    assert (video["codec"], video["width"], video["height"], video["fps"]) == (
        "h264",
        320,
        240,
        10.0,
    )
    assert video["frames"] == 30
    assert (audio["codec"], audio["sample_rate"], audio["channels"]) == ("aac", 16000, 1)
    [pcm] = files[1]["streams"]
    assert (pcm["codec"], pcm["sample_rate"], pcm["channels"], pcm["samples"]) == (
        "pcm_s16le",
        16000,
        1,
        48000,
    )
    assert files[2]["still_image"] is True and files[2]["duration_s"] is None
    assert msg == "inspected 4 file(s), 9.0 s of media"


def test_corrupt_recordings_are_listed_unreadable(media: dict[str, Path]) -> None:
    submission = _submission([media["truncated"], media["wav"], media["noise"]])
    result, msg = debug.process(submission)
    _assert_valid_clean_result(result)
    truncated, wav, noise = result["media"]["files"]
    assert wav["readable"] is True
    for bad in (truncated, noise):
        assert bad["readable"] is False and bad["reason"]
        assert "duration_s" not in bad and "streams" not in bad
    assert "moov atom not found" in truncated["reason"]
    assert result["media"]["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    assert msg == "inspected 3 file(s), 3.0 s of media; 2 unreadable: truncated.mp4, noise.webm"


def test_nothing_readable_gives_no_duration(media: dict[str, Path], tmp_path: Path) -> None:
    result, msg = debug.process(_submission([media["noise"], tmp_path / "gone.mp4"]))
    _assert_valid_clean_result(result)
    assert result["media"]["duration_s"] is None
    assert result["media"]["files"][1]["reason"] == "file not found"
    assert msg.startswith("inspected 2 file(s), 0.0 s of media; 2 unreadable")


def test_without_ffprobe_wav_is_still_read(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result, msg = debug.process(_submission([media["wav"], media["mp4"]]))
    _assert_valid_clean_result(result)
    wav, mp4 = result["media"]["files"]
    assert (wav["readable"], wav["probed_with"], wav["duration_s"]) == (True, "wave", SECONDS)
    assert mp4["readable"] is False and "ffprobe: not installed" in mp4["reason"]
    assert result["media"]["duration_s"] == SECONDS
    assert msg == "inspected 2 file(s), 3.0 s of media; 1 unreadable: clip.mp4"


def test_no_media_at_all() -> None:
    result, msg = debug.process({"session_id": "s", "recordings": [], "reference_photo": None})
    _assert_valid_clean_result(result)
    assert result["media"] == {"duration_s": None, "files": []}
    assert msg == "inspected 0 file(s), 0.0 s of media"


def test_entry_without_a_path_is_a_submission_error() -> None:
    with pytest.raises(SubmissionError, match="recording entry has no local path"):
        debug.process({"session_id": "s", "recordings": [{"name": "webcam.webm"}]})
