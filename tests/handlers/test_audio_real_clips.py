"""The audio handler's new decisions on committed real speech (tests/data/audio, LibriSpeech CC-BY-4.0).

Real voices through the documented microphone chains (ml_service/samples/realsets/audio_chain.py):
the same reader enrolled on a headset and heard on a phone or a browser is not accused; a second
real reader is found; noise-suppressed pauses between real words are not a dead microphone,
while zeros, a DC offset and the hiss of an unplugged input are.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handlers.audio import audio, silence
from ml_service.samples.evaluation import interval_iou, match_events
from ml_service.samples.realsets import audio_chain
from ml_service.samples.realsets.audio_scene import Scene
from ml_service.core.results import validate_result
from ml_service.samples.audio import write_audio

DATA = Path(__file__).resolve().parent.parent / "data" / "audio"
READER = ["1688-142285-0002", "1688-142285-0009"]
ENROL = ["1688-142285-0004", "1688-142285-0008"]
OTHER = ["1998-15444-0007", "1998-15444-0008"]


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg not on PATH: run handlers/audio/install.sh")
    return {p.stem: audio_chain.read_audio(p) for p in DATA.glob("*.flac")}


def _scene(clips, parts: list[tuple[str, str]], seconds: float, pause_s: float) -> Scene:
    scene, t = Scene(seconds), 1.0
    for voice, name in parts:
        t = scene.say(t, voice, clips[name]) + pause_s
    return scene


def _run(path: Path, enrol: Path | None = None, **options: Any) -> dict[str, Any]:
    item = lambda p: {"name": p.name, "path": str(p), "size": p.stat().st_size}  # noqa: E731
    result, _ = audio.process({"submission_id": 1, "session_id": "s", "modality": "audio", "options": options,
                               "recordings": [item(path)], "reference_photo": None,
                               "reference_voice": item(enrol) if enrol else None, "work_dir": str(path.parent)})
    assert validate_result(result) == [], validate_result(result)
    return result


def _found(truth: list[dict], violations: list[dict], kind: str) -> None:
    expected = [e for e in truth if e["type"] == kind]
    found = [v for v in violations if v["type"] == kind]
    pairs = match_events(expected, found)
    assert len(pairs) == len(expected) == len(found), (kind, expected, found)
    assert all(interval_iou(expected[t], found[p]) >= 0.6 for t, p in pairs), (kind, expected, found)


@pytest.fixture(scope="module")
def enrolment(clips, tmp_path_factory) -> Path:
    scene = _scene(clips, [("a", n) for n in ENROL], 11, 1.0)
    return write_audio(scene.render("headset", 1), tmp_path_factory.mktemp("enrol") / "enrol.wav")


@pytest.mark.parametrize("chain", ["phone", "browser"])
def test_the_same_reader_on_another_microphone_is_not_accused(clips, enrolment, tmp_path, chain) -> None:
    scene = _scene(clips, [("a", n) for n in READER], 12, 1.0)
    path = write_audio(scene.render(chain, 2), tmp_path / f"exam{audio_chain.SUFFIX[chain]}")
    result = _run(path, enrolment)
    identity = result["media"]["voice_identity"]
    assert identity["decision"] == "matched" and identity["similarity"][0] >= 0.7, identity
    assert not [v for v in result["violations"] if v["type"] in ("voice_mismatch", "multiple_speakers")]


def test_a_second_real_reader_is_found_and_told_from_the_candidate(clips, enrolment, tmp_path) -> None:
    parts = [("a", READER[0]), ("b", OTHER[0]), ("b", OTHER[1]), ("a", READER[1])]
    scene = _scene(clips, parts, 22, 1.5)
    assert scene.speech_s("b") >= 3.0
    path = write_audio(scene.render("laptop", 3), tmp_path / "exam.webm")
    result = _run(path, enrolment)
    truth = scene.truth("a")
    _found(truth, result["violations"], "multiple_speakers")
    _found(truth, result["violations"], "voice_mismatch")
    identity = result["media"]["voice_identity"]
    assert identity["margin"] >= 0.1 and result["media"]["speakers"] == 2, identity


def test_noise_suppressed_pauses_are_not_a_dead_microphone_but_cut_inputs_are(clips, tmp_path) -> None:
    parts = [("a", n) for n in READER + ENROL]
    quiet = _scene(clips, parts, 44, 7.0)
    path = write_audio(quiet.render("browser", 4), tmp_path / "browser.webm")
    result = _run(path, audio_checks=["mic_muted_or_dead"])
    assert result["violations"] == []
    assert result["media"]["quiet_pauses"] >= 3  # each pause did fall under -70 dBFS for >= 5 s
    for kind, chain in (("zeros", "browser"), ("dc", "laptop"), ("hiss", "headset")):
        cut = _scene(clips, parts[:2], 30, 2.0)
        cut.cut(10.0, 12.0, kind)
        path = write_audio(cut.render(chain, 5), tmp_path / f"cut-{kind}{audio_chain.SUFFIX[chain]}")
        result = _run(path, audio_checks=["mic_muted_or_dead"])
        _found(cut.truth("a"), result["violations"], "mic_muted_or_dead")


def test_silence_kinds_from_the_signal_itself() -> None:
    rng = np.random.default_rng(0)
    n = 16000 * 8
    levels = lambda x: 10 * np.log10(x[: len(x) // 512 * 512].reshape(-1, 512).var(axis=1) + 1e-12)  # noqa: E731
    zeros, dc = np.zeros(n, np.float32), np.full(n, 0.02, np.float32)
    hiss = (rng.standard_normal(n) * 10 ** (-85 / 20)).astype(np.float32)
    gated = audio_chain.noise_suppress_agc(audio_chain.room_tone(n, -52, 1) + hiss)  # a suppressed room
    assert silence.classify(zeros, levels(zeros)) == "digital_silence"
    assert silence.classify(dc, levels(dc)) == "digital_silence"
    assert silence.classify(hiss, levels(hiss)) == "flat_signal"
    assert silence.flatness(hiss) > 0.9 > 0.75 > silence.flatness(audio_chain.room_tone(n, -52, 2))  # pink room
    assert float(np.mean(levels(gated[16000:]))) < -70  # quiet enough to have been called dead before
    assert silence.classify(gated[16000:], levels(gated[16000:])) is None


def test_speech_likeness_of_a_noise_candidate() -> None:
    from handlers.audio import noise

    rng = np.random.default_rng(2)
    syllables = -30 + 12 * np.sin(np.arange(100) * 2 * np.pi / 8)  # 4 Hz swings, 24 dB peak to peak
    half_heard = np.where(rng.random(100) < 0.3, 0.2, 0.02)
    assert noise.speech_like(syllables, half_heard)
    assert not noise.speech_like(syllables, np.zeros(100))  # the VAD never stirred: music, clatter
    assert not noise.speech_like(-30 + rng.normal(0, 0.5, 100), half_heard)  # a steady fan
