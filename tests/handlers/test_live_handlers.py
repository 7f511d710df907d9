"""Each analyser given a session in segments (with the carry) finds what one pass finds.

Labelled demo samples are cut into six segments each (``ml_service.sandbox.live_cut``) and played
through the handler with :func:`ml_service.local.live_local.run_segments`, in order, and with one
segment out of order; the last answer's merged result must equal one pass over the recording
(same events, edges within 1 s). The webcam is covered end to end in tests/e2e/test_live_session.py.
"""

from __future__ import annotations

import importlib

import pytest

from ml_service.sandbox.demo_samples import default_cache, make_demo_samples
from ml_service.core.handlers import run_handler
from ml_service.sandbox.live_cut import cut, plan
from ml_service.local.live_local import differences, run_segments
from ml_service.samples import handler_input

CASES = [
    ("keystrokes", "keystrokes-idle-1", True),     # an idle minute the cuts split: fragments joined
    ("keystrokes", "keystrokes-paste-1", False),
    ("screencast", "screencast-chatgpt", True),    # the exam window is known from the carry
    pytest.param("screencast", "screencast-pillarbox", False, marks=pytest.mark.slow),  # the usual resolution
    ("audio", "audio-second-voice", True),
    pytest.param("audio", "audio-noise-bursts", False, marks=pytest.mark.slow),
]
NAMES = ["keystrokes", "screencast", "audio"]


@pytest.fixture(scope="module")
def samples():
    made = make_demo_samples(default_cache(), NAMES)
    return {s.name: s for found in made.values() for s in found}


@pytest.mark.parametrize("modality, name, shuffled", CASES)
def test_segments_with_the_carry_find_what_one_pass_finds(samples, tmp_path, modality, name, shuffled):
    sample = samples[name]
    handler = importlib.import_module(f"handlers.{modality}.{modality}").process
    base = handler_input(sample, tmp_path / "job")
    whole, _ = run_handler(handler, base)
    assert whole["violations"], f"{name} holds violations"
    cuts = plan(sample.duration_s, sample.duration_s / 6)
    files = cut(sample.recordings[0], tmp_path / "segments", cuts)
    segments = [(start, [f, *sample.recordings[1:]]) for (start, _), f in zip(cuts, files)]
    rest = {k: v for k, v in base.items() if k != "recordings"}
    for order in [None, [0, 1, 3, 2, 4, 5]] if shuffled else [None]:
        played = run_segments(handler, rest, segments, order)
        final = played.final
        assert final is not None and final["live"]["gaps"] == []
        assert differences(final["violations"], whole["violations"]) == [], order
        assert sorted(a["alert_id"] for a in played.alerts) == sorted(final["live"]["alert_ids"])
