"""ml_service.core.media_probe and ml_service.sandbox.demo_media, on small media made by ffmpeg here."""

from __future__ import annotations

import hashlib
import random
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from handlers.keystrokes.events import read_log
from ml_service.sandbox import demo_media
from ml_service.sandbox.demo_media import DemoMediaError, make_demo_media, make_photo, make_video, make_wav
from ml_service.core.media_probe import CHUNK_BYTES, probe, sha256_file

SECONDS = 3.0


def _require_ffmpeg() -> None:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not on PATH: install the Debian package 'ffmpeg' "
            "(apt-get install -y ffmpeg); these tests must not be skipped"
        )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    _require_ffmpeg()
    root = tmp_path_factory.mktemp("probe-media")
    video = make_video(root / "cam.mp4", SECONDS, (640, 480), 15, audio=True)
    return {
        "mp4": video,
        "wav": make_wav(root / "voice.wav", SECONDS),
        "photo": make_photo(root / "photo.jpg", (320, 240)),
        "truncated_mp4": _write(
            root / "truncated.mp4", video.read_bytes()[: video.stat().st_size // 2]
        ),
        "random": _write(root / "random.webm", random.Random(7).randbytes(64 * 1024)),
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    _require_ffmpeg()
    return make_demo_media(tmp_path_factory.mktemp("demo"), seconds=SECONDS)


@pytest.fixture
def no_ffprobe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH without ffprobe (an empty directory)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("ffprobe") is None


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _fake_ffprobe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    script = bin_dir / "ffprobe"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def _wav_samples(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as wav:
        data = wav.readframes(wav.getnframes())
    return [int.from_bytes(data[i : i + 2], "little", signed=True) for i in range(0, len(data), 2)]


def test_mp4_reports_container_duration_and_streams(media: dict[str, Path]) -> None:
    info = probe(media["mp4"])
    assert info["readable"] is True and info["probed_with"] == "ffprobe"
    assert "mp4" in info["format"]
    assert info["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    video, audio = info["streams"]
    assert (video["type"], video["codec"], video["width"], video["height"]) == (
        "video",
        "h264",
        640,
        480,
    )
    assert video["fps"] == 15.0 and video["frames"] == 45
    assert (audio["type"], audio["codec"], audio["sample_rate"], audio["channels"]) == (
        "audio",
        "aac",
        16000,
        1,
    )
    assert audio["duration_s"] == pytest.approx(SECONDS, abs=0.1)


def test_wav_reports_rate_channels_and_exact_samples(media: dict[str, Path]) -> None:
    info = probe(media["wav"])
    assert (info["readable"], info["probed_with"], info["format"]) == (True, "ffprobe", "wav")
    assert info["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    [stream] = info["streams"]
    assert stream == {
        "index": 0,
        "type": "audio",
        "codec": "pcm_s16le",
        "duration_s": SECONDS,
        "sample_rate": 16000,
        "channels": 1,
        "samples": 48000,
    }


def test_size_and_sha256_match_hashlib(media: dict[str, Path]) -> None:
    for path in media.values():
        info = probe(path)
        assert info["size_bytes"] == path.stat().st_size
        assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sha256_streams_files_larger_than_one_chunk(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(CHUNK_BYTES * 2 + 123)
    path = _write(tmp_path / "big.bin", data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_wav_fallback_gives_the_same_facts_without_ffprobe(
    media: dict[str, Path], no_ffprobe: None
) -> None:
    info = probe(media["wav"])
    assert (info["readable"], info["probed_with"], info["format"]) == (True, "wave", "wav")
    assert info["duration_s"] == SECONDS
    assert info["streams"] == [
        {
            "index": 0,
            "type": "audio",
            "codec": "pcm_s16le",
            "duration_s": SECONDS,
            "sample_rate": 16000,
            "channels": 1,
            "samples": 48000,
        }
    ]
    assert "warning" not in info


def test_mp4_without_ffprobe_is_unreadable_and_says_why(
    media: dict[str, Path], no_ffprobe: None
) -> None:
    info = probe(media["mp4"])
    assert info["readable"] is False and info["probed_with"] is None
    assert "ffprobe: not installed (Debian package ffmpeg)" in info["reason"]
    assert "duration_s" not in info and "streams" not in info
    assert info["size_bytes"] == media["mp4"].stat().st_size


def test_wav_fallback_when_ffprobe_fails(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ffprobe(tmp_path, monkeypatch, "echo 'broken build' >&2; exit 1")
    info = probe(media["wav"])
    assert (info["readable"], info["probed_with"], info["duration_s"]) == (True, "wave", SECONDS)


def test_ffprobe_timeout_is_reported_and_falls_back(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ffprobe(tmp_path, monkeypatch, "exec sleep 30")
    assert probe(media["wav"], timeout_s=0.3)["probed_with"] == "wave"
    info = probe(media["mp4"], timeout_s=0.3)
    assert info["readable"] is False
    assert "ffprobe: timed out after 0.3 s" in info["reason"]


@pytest.mark.parametrize("with_ffprobe", [True, False])
@pytest.mark.parametrize("name", ["truncated_mp4", "random"])
def test_corrupt_media_is_unreadable_never_guessed(
    media: dict[str, Path],
    name: str,
    with_ffprobe: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if not with_ffprobe:
        monkeypatch.setenv("PATH", str(tmp_path))
    info = probe(media[name])
    assert info["readable"] is False
    assert info["reason"].startswith("ffprobe: ") and "; wave: " in info["reason"]
    assert str(media[name].parent) not in info["reason"]  # no temp paths leak out
    assert not {"duration_s", "streams", "format"} & info.keys()
    assert info["sha256"] == hashlib.sha256(media[name].read_bytes()).hexdigest()


def test_truncated_mp4_reason_comes_from_ffprobe(media: dict[str, Path]) -> None:
    assert "moov atom not found" in probe(media["truncated_mp4"])["reason"]


@pytest.mark.parametrize("with_ffprobe", [True, False])
def test_truncated_wav_reports_only_the_samples_present(
    media: dict[str, Path], with_ffprobe: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kept = 44 + 2 * 16000  # header + one second of 16-bit mono
    path = _write(tmp_path / "cut.wav", media["wav"].read_bytes()[:kept])
    if not with_ffprobe:
        monkeypatch.setenv("PATH", str(tmp_path))
    info = probe(path)
    assert info["readable"] is True and info["probed_with"] == (
        "ffprobe" if with_ffprobe else "wave"
    )
    assert info["duration_s"] == pytest.approx(1.0, abs=0.01)
    if not with_ffprobe:
        assert info["streams"][0]["samples"] == 16000
        assert info["warning"] == "truncated: header declares 48000 samples, 16000 present"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert probe(tmp_path / "nope.mp4") == {
        "size_bytes": None,
        "sha256": None,
        "readable": False,
        "probed_with": None,
        "reason": "file not found",
    }
    assert probe(tmp_path)["reason"] == "not a regular file"


def test_photo_is_a_still_image_without_timing(media: dict[str, Path]) -> None:
    info = probe(media["photo"])
    assert info["readable"] is True and info["still_image"] is True and info["duration_s"] is None
    [stream] = info["streams"]
    assert (stream["codec"], stream["width"], stream["height"], stream["fps"]) == (
        "mjpeg",
        320,
        240,
        None,
    )


@pytest.mark.parametrize("name", ["-v.wav", "a:b.wav", "http:x.wav", "sp ace;$(x).wav"])
def test_awkward_file_names_are_read_as_files(
    media: dict[str, Path], tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path / name, media["wav"].read_bytes())
    info = probe(path)
    assert (info["readable"], info["probed_with"], info["duration_s"]) == (True, "ffprobe", SECONDS)


def test_demo_media_matches_its_description(demo: dict[str, list[Path]]) -> None:
    made = demo
    assert sorted(made) == ["audio", "debug", "keystrokes", "screencast", "webcam"]
    log = read_log(made["keystrokes"][0], "session.json", {}, 1 << 20)  # the handler's own reader
    assert log.keystrokes > 100 and not np.isnan(log.up_t).any() and log.duration_s >= 60
    assert list(log.paste_chars) == [600] and abs(log.paste_t[0] - log.duration_s / 2) < 3
    expect_video = {"webcam": (640, 480, 15.0), "screencast": (1280, 720, 5.0)}
    for modality, (width, height, fps) in expect_video.items():
        info = probe(made[modality][0])
        video = info["streams"][0]
        assert (video["codec"], video["width"], video["height"], video["fps"]) == (
            "h264",
            width,
            height,
            fps,
        )
        assert info["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    assert [s["type"] for s in probe(made["webcam"][0])["streams"]] == ["video", "audio"]
    assert [s["type"] for s in probe(made["screencast"][0])["streams"]] == ["video"]
    assert [p.suffix for p in made["debug"]] == [".wav", ".mp4"]
    assert all(probe(p)["readable"] for p in made["debug"])
    mic = probe(made["audio"][0])["streams"][0]
    assert (mic["codec"], mic["sample_rate"], mic["channels"]) == ("pcm_s16le", 16000, 1)


def test_demo_microphone_has_an_exactly_silent_gap(demo: dict[str, list[Path]]) -> None:
    samples = _wav_samples(demo["audio"][0])
    start, end = demo_media.silent_gap(SECONDS)
    gap = samples[int(start * 16000) + 1 : int(end * 16000) - 1]
    assert gap and all(s == 0 for s in gap)
    before = samples[: int(start * 16000) - 1]
    assert max(abs(s) for s in before) > 8000 and sum(s == 0 for s in before) < len(before) // 100


def test_demo_media_is_deterministic(tmp_path: Path) -> None:
    _require_ffmpeg()
    first = make_demo_media(tmp_path / "one", seconds=1.0)
    second = make_demo_media(tmp_path / "two", seconds=1.0)
    for modality, paths in first.items():
        assert [sha256_file(p) for p in paths] == [sha256_file(p) for p in second[modality]]


def test_demo_media_without_ffmpeg_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DemoMediaError, match="Debian package 'ffmpeg'"):
        make_demo_media(tmp_path / "out", seconds=1.0)


def test_demo_media_rejects_non_positive_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_demo_media(tmp_path, seconds=0)
