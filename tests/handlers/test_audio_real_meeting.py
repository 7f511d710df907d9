"""The audio handler on a real annotated meeting (tests/data/audio: AMI EN2002a, CC-BY-4.0).

Thirty seconds of four people around a table, heard by a distant microphone, with the AMI
manual annotations (words only) cut to the excerpt: overlaps, turns of 0.3-13 s, 7-15 s of
speech each. The handler must hear one meeting of several people (not noise, not a dead
microphone) and give speaker turns over the speech it hears, unclear stretches included.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from handlers.audio import analysis, audio, vad
from handlers.audio.decode import decode
from handlers.audio.options import Options
from ml_service.samples.evaluation import interval_iou, match_events
from ml_service.samples.realsets.audio_meetings import turns_in
from ml_service.core.results import validate_result
from ml_service.samples.audio import Clip

DATA = Path(__file__).resolve().parent.parent / "data" / "audio"
CLIP = DATA / "ami-EN2002a-184s-30s.flac"
RTTM = DATA / "ami-EN2002a-184s-30s.rttm"


@pytest.fixture(scope="module")
def turns() -> list[tuple[float, float, str]]:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg not on PATH: run handlers/audio/install.sh")
    return turns_in(RTTM.read_text(), "EN2002a", 0.0, 30.0)


def _covered(spans: list[tuple[float, float]], step: float = 0.01) -> np.ndarray:
    mask = np.zeros(int(30 / step) + 1, bool)
    for a, b in spans:
        mask[int(a / step) : int(b / step)] = True
    return mask


def test_the_published_turns_are_cut_to_the_excerpt_and_joined() -> None:
    rttm = ("SPEAKER M1 1 99.0 2.0 <NA> <NA> A <NA> <NA>\nSPEAKER M1 1 101.1 1.0 <NA> <NA> A <NA> <NA>\n"
            "SPEAKER M1 1 102.0 3.5 <NA> <NA> B <NA> <NA>\nSPEAKER M2 1 100.5 1.0 <NA> <NA> C <NA> <NA>\n"
            "SPEAKER M1 1 104.0 0.5 <NA> <NA> A <NA> <NA>\n")
    assert turns_in(rttm, "M1", 100.0, 5.0) == [(0.0, 2.1, "A"), (2.0, 5.0, "B"), (4.0, 4.5, "A")]


def test_a_real_four_person_meeting_is_several_speakers_not_noise_or_a_dead_mic(turns, tmp_path) -> None:
    item = {"name": CLIP.name, "path": str(CLIP), "size": CLIP.stat().st_size}
    result, _ = audio.process({"submission_id": 1, "session_id": "ami", "modality": "audio", "options": {},
                               "recordings": [item], "reference_photo": None, "reference_voice": None,
                               "work_dir": str(tmp_path)})
    assert validate_result(result) == []
    violations = result["violations"]
    speakers = {who for _, _, who in turns}
    dominant = max(speakers, key=lambda w: sum(e - s for s, e, v in turns if v == w))
    truth = Clip.truth(SimpleNamespace(items=[("speech", s, e, w) for s, e, w in turns]), dominant)
    expected = [e for e in truth if e["type"] == "multiple_speakers"]
    found = [v for v in violations if v["type"] == "multiple_speakers"]
    pairs = match_events(expected, found)
    assert len(pairs) == len(expected) == len(found) == 1
    assert interval_iou(expected[0], found[0]) >= 0.8
    assert result["media"]["speakers"] >= 2
    assert not [v for v in violations if v["type"] in ("background_noise", "mic_muted_or_dead")]
    said = _covered([(s, e) for s, e, _ in turns])
    heard = _covered([(v["start_s"], v["end_s"]) for v in violations if v["type"] == "speech"])
    assert (said & heard).sum() >= 0.85 * said.sum()


def test_speaker_turns_cover_the_speech_heard_not_only_the_clear_windows(turns) -> None:
    opts = Options.from_mapping({})
    samples = decode(CLIP)
    levels, probs = vad.scan(samples, opts.vad_gate_db)
    segments = vad.speech_segments(probs, opts.speech_threshold)
    d = analysis.diarization(samples, levels, probs, segments, opts)
    said = _covered([(s, e) for s, e, _ in turns])
    in_turns = _covered([(t.start_s, t.end_s) for t in d.turns])
    embedded = sum(d.seconds)
    assert embedded < 0.6 * said.sum() / 100  # distant speech: most windows are not clear enough to embed
    assert (said & in_turns).sum() >= 0.75 * said.sum()  # yet the turns cover the speech
