"""``talking`` on constructed mouth series (never skipped): lips that open and close are
speech; landmark jitter on a mouth held open (a blurred or low-resolution face: measured about
8 % of the gap on an upscaled 25 px photograph, 15-20 % on a warped smile of it) is not."""

from __future__ import annotations

import numpy as np
import pytest

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.checks import People
from handlers.webcam.cues import talking
from handlers.webcam.faces import FaceObs
from handlers.webcam.options import Options

OPTS = Options()


def _face(mouth: float, smile: float = 0.0) -> FaceObs:
    return FaceObs((200.0, 100.0, 360.0, 300.0), 0.0, 0.0, 0.0, 0.0, mouth, smile, 0.0,
                   ((330.0, 170.0), (300.0, 170.0), (230.0, 170.0), (260.0, 170.0), (280.0, 220.0)))


def _run(mouths: np.ndarray, smiles: np.ndarray | None = None) -> list[dict]:
    smiles = np.zeros(len(mouths)) if smiles is None else smiles
    samples = [Obs(i * 0.27, True, False, [_face(float(m), float(sm))]) for i, (m, sm) in enumerate(zip(mouths, smiles))]
    data = Observations(obs=samples, light=[(o.t, False) for o in samples], end_s=samples[-1].t + 0.27)
    return talking(data, OPTS, People(data, OPTS))


@pytest.mark.parametrize("jitter", [0.06, 0.1, 0.15])
def test_jitter_on_a_mouth_held_open_is_not_talking(jitter):
    rng = np.random.default_rng(0)
    mouths = 0.12 * (1 + rng.normal(0, jitter, 60))  # 16 s of a mouth open at 0.12 face heights
    assert _run(mouths) == []


def test_lips_that_open_and_close_are_talking():
    rng = np.random.default_rng(0)
    quiet = 0.01 + rng.normal(0, 0.001, 20)
    speech = rng.choice([0.005, 0.02, 0.04, 0.06], 30) + rng.normal(0, 0.003, 30)  # syllables, closed between
    found = _run(np.concatenate([quiet, speech, quiet]))
    assert [v["type"] for v in found] == ["talking"]
    assert 5.0 <= found[0]["start_s"] <= 7.0 and 12.5 <= found[0]["end_s"] <= 14.5  # speech: 5.4-13.5 s


def test_a_small_mouth_that_moves_by_a_small_amount_is_not_talking():
    rng = np.random.default_rng(0)
    assert _run(0.02 + rng.normal(0, 0.004, 60)) == []  # below the 0.008 floor most of the time


def _speech(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([0.005, 0.02, 0.04, 0.06], n) + rng.normal(0, 0.003, n)  # syllables, closed between


def test_a_mouth_held_half_open_mid_sentence_does_not_split_the_talking():
    quiet = np.full(20, 0.01)
    speech = np.tile([0.005, 0.06, 0.02, 0.04], 4)  # syllables, closed between
    held = 0.13 + 0.016 * np.tile([1, -1], 5)  # 2.7 s: moving above the 0.008 floor, by only 12 % of the gap
    mouths = np.concatenate([quiet, speech, held, speech, quiet])
    found = _run(mouths)
    assert [v["type"] for v in found] == ["talking"], found
    assert found[0]["start_s"] <= 6.0 and found[0]["end_s"] >= 15.0  # speech 5.4-9.7 s and 12.4-16.7 s, one span
    unbridged = _run(np.concatenate([quiet, speech, np.full(10, 0.13), speech, quiet]))
    assert [v["type"] for v in unbridged] == ["talking", "talking"], unbridged  # a mouth held still splits it


def test_a_smile_held_with_a_jittering_mouth_is_not_talking():
    rng = np.random.default_rng(2)
    mouths = np.concatenate([0.12 + rng.normal(0, 0.002, 20), 0.07 * (1 + rng.normal(0, 0.3, 20)), 0.12 + rng.normal(0, 0.002, 20)])
    smiles = np.concatenate([np.zeros(20), np.full(20, 0.7), np.zeros(20)])
    assert _run(mouths, smiles) == []
    assert _run(mouths) != []  # the same mouth without the smile reads as talking
