"""handlers.audio.audio.process on short clips generated on the fly (espeak-ng + ffmpeg, never skipped).

Each check must find the interval planted for it (IoU >= 0.8), a clean clip must give no
violation, and every result must validate against the schema.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handlers.audio import audio, embedding
from handlers.audio.decode import SAMPLE_RATE, Unreadable, decode
from handlers.audio.options import DEFAULTS, Options
from ml_service.core.errors import SubmissionError
from ml_service.samples.evaluation import interval_iou, match_events
from ml_service.core.results import ErrorCode, validate_result
from ml_service.samples.audio import TEXTS, Clip, enrolment, write_audio

MODELS = Path(audio.__file__).parent / "models"


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [t for t in ("ffmpeg", "ffprobe", "espeak-ng") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: run handlers/audio/install.sh "
                    "(Debian packages ffmpeg, espeak-ng); handler tests must not be skipped")


@pytest.fixture(scope="module")
def clips(tools: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("audio-clips")
    rng = np.random.default_rng(5)
    made: dict[str, Any] = {"enrol_candidate": enrolment(root)}
    helper = Clip(10, rng, tone_db=-60)
    helper.say(1.0, "helper", TEXTS[9])
    made["enrol_helper"] = write_audio(helper.x, root / "enrol-helper.wav")

    talk = Clip(40, rng)
    talk.say(1.0, "candidate", TEXTS[0])
    t = talk.say(16.0, "helper", TEXTS[4]) + 1.8
    t = talk.say(t, "candidate", TEXTS[5]) + 1.8
    talk.say(t, "helper", TEXTS[6])
    made["dialogue"] = (write_audio(talk.x, root / "dialogue.ogg"), talk.truth("candidate"))

    env = Clip(32, rng)
    env.noise(2.0, 4.0, "white", -30)
    env.noise(9.0, 6.0, "music", -30)
    env.mute(19.0, 8.0)
    made["environment"] = (write_audio(env.x, root / "environment.wav"), env.truth("candidate"))

    clean = Clip(20, rng, tone_db=-55)
    clean.clicks(10)
    clean.typing(5.0, 5.0)
    made["clean"] = write_audio(clean.x, root / "clean.wav")

    solo = Clip(14, rng)
    solo.say(2.0, "candidate", TEXTS[2])
    made["solo"] = (write_audio(solo.x, root / "solo.wav"), solo.truth("candidate"))
    return made


def _submission(recording: Path, voice: Path | None = None, **options: Any) -> dict[str, Any]:
    def item(p: Path) -> dict[str, Any]:
        return {"name": p.name, "path": str(p), "size": p.stat().st_size if p.exists() else 0}

    return {"submission_id": 3, "session_id": "exam1-student2", "modality": "audio", "options": options,
            "recordings": [item(recording)], "reference_photo": None,
            "reference_voice": item(voice) if voice else None, "work_dir": str(recording.parent)}


def _run(recording: Path, voice: Path | None = None, **options: Any) -> dict[str, Any]:
    result, msg = audio.process(_submission(recording, voice, **options))
    assert validate_result(result) == [], validate_result(result)
    assert msg
    return result


def _assert_found(truth: list[dict], violations: list[dict], kind: str) -> None:
    expected = [e for e in truth if e["type"] == kind]
    found = [v for v in violations if v["type"] == kind]
    pairs = match_events(expected, found)
    assert len(pairs) == len(expected) == len(found), (kind, expected, found)
    for t, p in pairs:
        assert interval_iou(expected[t], found[p]) >= 0.8, (kind, expected[t], found[p])


def test_dialogue_finds_speech_speakers_foreign_voice_and_turn_taking(clips: dict[str, Any]) -> None:
    path, truth = clips["dialogue"]
    result = _run(path)
    for kind in ("speech", "multiple_speakers", "voice_mismatch", "conversation_hints"):
        _assert_found(truth, result["violations"], kind)
    assert result["media"]["speakers"] == 2
    multi = next(v for v in result["violations"] if v["type"] == "multiple_speakers")
    assert multi["details"]["speakers"] == 2
    mismatch = next(v for v in result["violations"] if v["type"] == "voice_mismatch")
    assert mismatch["details"]["reference"] == "dominant_voice"


def test_noise_music_and_muted_mic_are_found_and_told_apart(clips: dict[str, Any]) -> None:
    path, truth = clips["environment"]
    result = _run(path)
    for kind in ("background_noise", "mic_muted_or_dead"):
        _assert_found(truth, result["violations"], kind)
    noise = sorted((v for v in result["violations"] if v["type"] == "background_noise"), key=lambda v: v["start_s"])
    assert [v["details"]["kind"] for v in noise] == ["broadband", "tonal"]
    assert all(-34 < v["details"]["level_dbfs"] < -26 for v in noise)
    muted = next(v for v in result["violations"] if v["type"] == "mic_muted_or_dead")
    assert muted["details"]["kind"] == "digital_silence"
    assert not [v for v in result["violations"] if v["type"] == "speech"]


def test_clean_room_with_typing_gives_no_violation(clips: dict[str, Any]) -> None:
    result = _run(clips["clean"])
    assert result["violations"] == [] and result["score"] == 1.0


def test_enrolment_of_the_same_voice_matches_and_a_weakly_different_one_is_not_an_accusation(
        clips: dict[str, Any]) -> None:
    path, truth = clips["solo"]
    same = _run(path, clips["enrol_candidate"])
    assert same["media"]["reference_voice"] == {"used": True}
    assert same["media"]["voice_identity"]["decision"] == "matched"
    assert not [v for v in same["violations"] if v["type"] == "voice_mismatch"]
    _assert_found(truth, same["violations"], "speech")
    # The helper's espeak voice scores 0.55-0.69 against the candidate's enrolment: inside the range
    # where real people heard through another microphone still score (README, "Voice identity"),
    # so it is reported as uncertain, not as an impostor.
    other = _run(path, clips["enrol_helper"])
    identity = other["media"]["voice_identity"]
    assert identity["decision"] == "uncertain" and identity["uncertain_voices"] == ["S1"]
    assert 0.5 <= identity["similarity"][0] < 0.7
    assert not [v for v in other["violations"] if v["type"] == "voice_mismatch"]
    # With the impostor threshold raised above that similarity, the same clip is a confident mismatch.
    strict = _run(path, clips["enrol_helper"], voice_reject_threshold=0.75, voice_match_threshold=0.8)
    as_mismatch = [{**e, "type": "voice_mismatch"} for e in truth if e["type"] == "speech"]
    _assert_found(as_mismatch, strict["violations"], "voice_mismatch")
    assert strict["violations"][-1]["details"]["reference"] == "enrolment"
    assert strict["violations"][-1]["details"]["decision"] == "impostor"


def test_audio_track_of_webm_and_mp4_video_is_analysed(clips: dict[str, Any], tmp_path: Path) -> None:
    wav, truth = clips["solo"]
    for suffix, codecs in ((".webm", ["-c:v", "libvpx", "-c:a", "libopus"]),
                           (".mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"])):
        video = tmp_path / f"webcam{suffix}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=size=96x64:rate=5",
                        "-i", str(wav), "-shortest", *codecs, str(video)], check=True)
        result = _run(video)
        _assert_found(truth, result["violations"], "speech")
        assert abs(result["media"]["duration_s"] - 14.0) < 0.3


def test_unreadable_media_gives_a_media_unreadable_error(clips: dict[str, Any], tmp_path: Path) -> None:
    noise = tmp_path / "noise.webm"
    noise.write_bytes(random.Random(3).randbytes(20_000))
    silent_video = tmp_path / "video-only.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=size=96x64:rate=5:d=1",
                    "-c:v", "libvpx", str(silent_video)], check=True)
    for bad in (noise, silent_video, tmp_path / "missing.wav"):
        result = _run(bad)
        assert result["error_code"] == ErrorCode.MEDIA_UNREADABLE and result["score"] == 0.0
        assert bad.name in result["msg"]


def test_unreadable_enrolment_falls_back_to_the_dominant_voice(clips: dict[str, Any], tmp_path: Path) -> None:
    broken = tmp_path / "enrol.wav"
    broken.write_bytes(b"RIFF nonsense")
    path, _ = clips["solo"]
    result = _run(path, broken)
    assert result["error_code"] == 0
    assert result["media"]["reference_voice"]["used"] is False


def test_options_choose_checks_and_bad_values_are_refused(clips: dict[str, Any]) -> None:
    path, _ = clips["environment"]
    result = _run(path, audio_checks=["mic_muted_or_dead"], face_absent_min_s=5)
    assert {v["type"] for v in result["violations"]} == {"mic_muted_or_dead"}
    with pytest.raises(SubmissionError, match="noise_db.*dialogue_min_changes"):
        audio.process(_submission(path, noise_db="loud", dialogue_min_changes=0))
    assert Options.from_mapping({}) == Options() and DEFAULTS["noise_db"] == -42.0


def test_decode_resamples_any_rate_and_layout_to_16k_mono(tmp_path: Path, tools: None) -> None:
    stereo = tmp_path / "stereo48k.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                    "-ac", "2", str(stereo)], check=True)
    samples = decode(stereo)
    assert samples.dtype == np.float32 and abs(len(samples) - 2 * SAMPLE_RATE) < 200
    with pytest.raises(Unreadable):
        decode(tmp_path / "nothing.ogg")


def test_mel_front_end_has_resemblyzer_shape_and_slaney_filters() -> None:
    mel = embedding.mel_frames(np.zeros(16000, np.float32))
    assert mel.shape == (101, 40)
    basis = embedding._mel_basis()
    assert basis.shape == (201, 40) and (basis >= 0).all()
    assert np.allclose(basis.sum(axis=0)[:5] > 0, True)  # no empty band


def test_speaker_encoder_file_matches_its_provenance() -> None:
    provenance = (MODELS / "PROVENANCE.md").read_text()
    recorded = re.search(r"\| sha256 \| `([0-9a-f]{64})` \|", provenance).group(1)
    model = MODELS / "speaker_encoder.onnx"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == recorded
    assert model.stat().st_size < 20 * 1024 * 1024
    assert "Apache License" in (MODELS / "LICENSE").read_text()
    vectors = embedding.embed(np.random.default_rng(0).random((3, 160, 40), dtype=np.float32))
    assert vectors.shape == (3, 256) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_a_clip_shorter_than_one_frame_and_pure_zeros_are_handled(tmp_path: Path, tools: None) -> None:
    tiny = write_audio(np.full(300, 0.1, np.float32), tmp_path / "tiny.wav")
    assert _run(tiny)["violations"] == []
    zeros = write_audio(np.zeros(8 * SAMPLE_RATE, np.float32), tmp_path / "zeros.webm")
    result = _run(zeros, zeros)
    assert [v["type"] for v in result["violations"]] == ["mic_muted_or_dead"]
    assert result["media"]["reference_voice"] == {"used": False, "reason": "no speech in the enrolment clip"}


def test_several_recordings_are_one_timeline(clips: dict[str, Any]) -> None:
    path, truth = clips["solo"]
    submission = _submission(path)
    submission["recordings"] = submission["recordings"] * 2
    result, _ = audio.process(submission)
    assert validate_result(result) == []
    second = result["media"]["files"][1]["offset_s"]
    assert abs(second - 14.0) < 0.05
    speech = [v for v in result["violations"] if v["type"] == "speech"]
    shifted = [{**e, "start_s": e["start_s"] + second, "end_s": e["end_s"] + second} for e in truth if e["type"] == "speech"]
    _assert_found([e for e in truth if e["type"] == "speech"] + shifted, speech, "speech")
