"""Checks on downloaded media before the handler: duration, photo pixels, a voice that is audio."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from ml_service.sandbox.demo_media import make_photo, make_wav
from ml_service.core.errors import MediaError
from ml_service.samples.hostile_media import make_lying_wav, make_png_bomb
from ml_service.core.media_checks import MediaLimits, check_media, image_size, wav_duration, with_notes


def ffmpeg_image(path: Path, size: str = "64x48") -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", f"color=c=gray:s={size}",
                    "-frames:v", "1", str(path)], check=True)
    return path


def item(path: Path) -> dict:
    return {"name": path.name, "path": str(path), "size": path.stat().st_size}


@pytest.mark.parametrize("suffix", [".png", ".gif", ".bmp", ".jpg"])
def test_image_size_reads_the_header(tmp_path, suffix):
    assert image_size(ffmpeg_image(tmp_path / f"x{suffix}")) == (64, 48)


def test_image_size_of_a_png_bomb_and_of_non_images(tmp_path):
    assert image_size(make_png_bomb(tmp_path / "bomb.png")) == (20_000, 20_000)
    (tmp_path / "t.txt").write_text("not an image")
    (tmp_path / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert image_size(tmp_path / "t.txt") is None and image_size(tmp_path / "cut.jpg") is None


def test_a_recording_over_the_limit_is_refused_one_without_a_duration_passes(tmp_path):
    rec = item(make_wav(tmp_path / "r.wav", seconds=3.0))
    with pytest.raises(MediaError, match="longer than the configured maximum of 2 s"):
        check_media({"recordings": [rec]}, MediaLimits(max_duration_s=2))
    unknown = {"recordings": [rec]}
    assert check_media(unknown, MediaLimits(max_duration_s=2), probe_file=lambda p: {"duration_s": None}) == []


def test_usable_references_are_kept(tmp_path):
    submission = {"recordings": [], "reference_photo": item(make_photo(tmp_path / "face.jpg")),
                  "reference_voice": item(make_wav(tmp_path / "enrol.wav", seconds=1.0))}
    assert check_media(submission, MediaLimits()) == []
    assert submission["reference_photo"] and submission["reference_voice"]


def test_unusable_references_are_dropped_with_a_note(tmp_path):
    (tmp_path / "voice.wav").write_text("this is text, not audio")
    submission = {"recordings": [], "reference_photo": item(make_png_bomb(tmp_path / "face.png")),
                  "reference_voice": item(tmp_path / "voice.wav")}
    notes = check_media(submission, MediaLimits())
    assert submission["reference_photo"] is None and submission["reference_voice"] is None
    assert notes == ["reference photo 'face.png' not used: 20000x20000 pixels, over the 100000000-pixel limit",
                     "reference voice 'voice.wav' not used: no audio in it"]


def test_a_silent_video_as_reference_voice_and_text_as_photo_are_dropped(tmp_path):
    (tmp_path / "photo.jpg").write_text("<html>")
    video = tmp_path / "v.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=s=32x32:d=1",
                    str(video)], check=True)
    submission = {"recordings": [], "reference_photo": item(tmp_path / "photo.jpg"), "reference_voice": item(video)}
    notes = check_media(submission, MediaLimits())
    assert [n.split(": ", 1)[1] for n in notes] == ["not an image whose size can be read", "no audio in it"]


def test_with_notes_adds_to_media_and_message():
    result = {"media": {"notes": ["handler note"]}, "violations": []}
    out, msg = with_notes(result, "looked", ["reference voice 'v' not used: no audio in it"])
    assert out["media"]["notes"] == ["handler note", "reference voice 'v' not used: no audio in it"]
    assert msg == "looked; reference voice 'v' not used: no audio in it"
    assert result["media"]["notes"] == ["handler note"]  # not changed in place
    assert with_notes(result, "m", []) == (result, "m")


def test_wav_duration_counts_the_samples_present_without_starting_a_process(tmp_path):
    assert wav_duration(make_wav(tmp_path / "three.wav", seconds=3.0)) == 3.0
    assert wav_duration(make_lying_wav(tmp_path / "lying.wav")) == 1.0  # the header claims ten hours
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
    with_list = b"WAVE" + b"fmt " + fmt + b"LIST" + struct.pack("<I", 5) + b"abcde\x00" + b"data" + struct.pack("<I", 8000) + b"\x00" * 8000
    (tmp_path / "list.wav").write_bytes(b"RIFF" + struct.pack("<I", len(with_list)) + with_list)
    assert wav_duration(tmp_path / "list.wav") == 0.5
    (tmp_path / "no-data.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + fmt)
    (tmp_path / "text.wav").write_text("not a wav at all")
    assert wav_duration(tmp_path / "no-data.wav") is None and wav_duration(tmp_path / "text.wav") is None
