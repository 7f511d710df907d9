"""The real audio development set: real read speech in exam sessions, other microphones, meetings.

Sources (``audio.manifest.json``): LibriSpeech utterances (CC-BY-4.0) as shipped in
resemble-ai/Resemblyzer: ten test-other readers with ten utterances each are the candidates
(utterances 0-2 are their enrolment, 3-9 their exam speech) and sixty train-clean-100 readers
with one utterance each are other people. Nothing is synthesised but the rooms and channels
(:mod:`ml_service.samples.realsets.audio_chain`) and the cut-outs of a dead microphone.

Sample names say the kind and the condition, ``real-<kind>-<condition>-<candidate>-<k>``:
kinds ``alone`` (the candidate alone; clean: no violation, the ``speech`` check off as where
reading aloud is allowed), ``second`` (another person speaks >= 3 s, near or across the room),
``impostor`` (someone else sits the exam), ``deadmic`` (muted, DC, unplugged stretches), and
``meeting`` (2-4 people, short turns, overlaps, no enrolment; real voices on a generated
timeline) and ``ami`` (real meetings with published annotations:
:mod:`ml_service.samples.realsets.audio_meetings`); conditions ``same-mic`` (the
enrolment through the same chain as the exam), ``other-mic`` (enrolment on the headset, exam
on the laptop or phone chain), ``far-field`` and ``noise-suppressed`` (browser chain). Each
sample's RTTM (who spoke when) is written beside it as ``<name>.rttm``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml_service.samples.realsets import audio_chain, audio_meetings
from ml_service.samples.realsets.audio_scene import Scene
from ml_service.samples.audio import write_audio
from ml_service.samples.truth import Sample

__all__ = ["CONDITIONS", "build", "condition_of"]

MODALITY = "audio"
CONDITIONS = ("same-mic", "other-mic", "far-field", "noise-suppressed")
_ALL = ["speech", "multiple_speakers", "voice_mismatch", "background_noise", "mic_muted_or_dead",
        "conversation_hints"]
_NO_SPEECH = {"audio_checks": _ALL[1:]}
_EXAM = {"laptop": "other-mic", "phone": "other-mic", "far": "far-field", "browser": "noise-suppressed"}


def condition_of(name: str) -> str:
    """The condition a sample name carries (``real-<kind>-<condition>-...``)."""
    return next((c for c in CONDITIONS if f"-{c}-" in name), "other")


class _Voices:
    """The decoded utterances, by reader."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.utts: dict[str, list[np.ndarray]] = {}
        self.sex: dict[str, str] = {}
        for key in sorted(files):
            reader = key.split("-")[1]
            self.utts.setdefault(reader, []).append(audio_chain.read_audio(files[key]))
        self.candidates = sorted(r for r, u in self.utts.items() if len(u) >= 10)
        self.others = sorted(r for r, u in self.utts.items() if len(u) < 10)

    def enrolment(self, reader: str) -> np.ndarray:
        gap = np.zeros(audio_chain.RATE // 2, np.float32)
        return np.concatenate([np.concatenate([u, gap]) for u in self.utts[reader][:3]])

    def piece(self, reader: str, rng: np.random.Generator, seconds: float) -> np.ndarray:
        """About ``seconds`` of one of the reader's utterances (exam pool), cut at a quiet frame."""
        pool = self.utts[reader][3:] or self.utts[reader]
        wav = pool[int(rng.integers(len(pool)))]
        want = int(seconds * audio_chain.RATE)
        if len(wav) <= want:
            return wav
        start = int(rng.integers(0, len(wav) - want))
        return _quiet_cut(wav[start:], want)


def _quiet_cut(wav: np.ndarray, want: int) -> np.ndarray:
    """``wav`` cut at the quietest 32 ms frame of the second after ``want`` samples."""
    tail = wav[want : want + audio_chain.RATE]
    n = len(tail) // 512
    if n == 0:
        return wav[:want]
    return wav[: want + 512 * int(np.argmin((tail[: n * 512].reshape(n, 512) ** 2).mean(axis=1)))]


def build(files: dict[str, Path], out_dir: Path) -> list[Sample]:
    """Every session of the set, written into ``out_dir`` with its RTTM."""
    voices = _Voices({k: p for k, p in files.items() if k.startswith(("to-", "tc-"))})
    out_dir = Path(out_dir)
    rng = np.random.default_rng(17)
    samples: list[Sample] = []
    for i, cand in enumerate(voices.candidates):
        enrol = {c: _write(audio_chain.apply(voices.enrolment(cand), c, 900 + i), out_dir / f"enrol-{cand}-{c}", c)
                 for c in ("headset", "laptop", "browser")}
        for k in range(3):
            chain = audio_chain.CHAINS[(i + 2 * k) % 5]
            same = k == 2 and chain in enrol
            samples.append(_alone(voices, cand, chain, enrol[chain] if same else enrol["headset"], same, i, k, rng, out_dir))
        for k in range(2):
            chain = ("laptop", "phone", "browser", "headset", "laptop")[(i + k) % 5]
            samples.append(_second(voices, cand, chain, enrol["headset"], i, k, rng, out_dir))
        samples.append(_impostor(voices, cand, ("laptop", "browser")[i % 2], enrol["headset"], i, rng, out_dir))
        if i < 4:
            samples.append(_deadmic(voices, cand, ("laptop", "browser")[i % 2], i, rng, out_dir))
        if i < 8:
            samples.append(_meeting(voices, cand, i, rng, out_dir))
    return samples + audio_meetings.meeting_samples(files, out_dir)


def _write(x: np.ndarray, stem: Path, chain: str) -> Path:
    return write_audio(x, stem.with_suffix(audio_chain.SUFFIX[chain]))


def _sample(scene: Scene, name: str, chain: str, seed: int, cand: str, out_dir: Path, enrol: Path | None,
            **kw) -> Sample:
    path = _write(scene.render(chain, seed), out_dir / name, chain)
    (out_dir / f"{name}.rttm").write_text(scene.rttm(name))
    truth = [] if kw.get("clean") else scene.truth(cand)
    return Sample(name=name, modality=MODALITY, recordings=[path], duration_s=scene.n / audio_chain.RATE,
                  truth=truth, reference_voice=enrol, checks=kw.pop("checks", list(_ALL)), **kw)


def _alone(v, cand, chain, enrol, same, i, k, rng, out_dir) -> Sample:
    """The candidate alone for 120 s: four to six utterances, pauses of 3-25 s."""
    scene, t = Scene(120), float(rng.uniform(2, 8))
    while t < 105:
        t = scene.say(t, cand, v.piece(cand, rng, 12), gain_db=float(rng.uniform(-4, 4))) + float(rng.uniform(3, 25))
    cond = "same-mic" if same else _EXAM.get(chain, "same-mic")
    return _sample(scene, f"real-alone-{cond}-{cand}-{k}", chain, 100 * i + k, cand, out_dir, enrol,
                   clean=True, options=dict(_NO_SPEECH), checks=_ALL[1:])


def _second(v, cand, chain, enrol, i, k, rng, out_dir) -> Sample:
    """The candidate, then another person (>= 3 s of speech), near or across the room, then the candidate."""
    other = v.others[(7 * i + k) % len(v.others)] if k else v.candidates[(i + 3) % len(v.candidates)]
    scene = Scene(75)
    t = scene.say(float(rng.uniform(2, 5)), cand, v.piece(cand, rng, 10)) + float(rng.uniform(1.5, 6))
    far = k == 1 and chain != "phone"
    t = scene.say(t, other, v.piece(other, rng, float(rng.uniform(4, 9))), far=far) + float(rng.uniform(1.5, 6))
    scene.say(t, cand, v.piece(cand, rng, 10))
    cond = "far-field" if far else _EXAM.get(chain, "same-mic")
    return _sample(scene, f"real-second-{cond}-{cand}-{k}", chain, 200 * i + k, cand, out_dir, enrol)


def _impostor(v, cand, chain, enrol, i, rng, out_dir) -> Sample:
    """Another test-other reader sits the exam for 60 s, against the candidate's enrolment."""
    other = v.candidates[(i + 2) % len(v.candidates)]
    scene, t = Scene(60), float(rng.uniform(2, 5))
    while t < 45:
        t = scene.say(t, other, v.piece(other, rng, 10)) + float(rng.uniform(2, 6))
    return _sample(scene, f"real-impostor-{_EXAM[chain]}-{cand}-0", chain, 300 * i, cand, out_dir, enrol)


def _deadmic(v, cand, chain, i, rng, out_dir) -> Sample:
    """The candidate with a muted (zeros), a DC or an unplugged (hiss) stretch of 8-15 s."""
    scene = Scene(70)
    t = scene.say(3, cand, v.piece(cand, rng, 10)) + 2
    scene.cut(t, float(rng.uniform(8, 15)), ("zeros", "dc", "hiss", "zeros")[i % 4])
    scene.say(t + 20, cand, v.piece(cand, rng, 10))
    return _sample(scene, f"real-deadmic-{_EXAM[chain]}-{cand}-0", chain, 400 * i, cand, out_dir, None)


def _meeting(v, cand, i, rng, out_dir) -> Sample:
    """2-4 people for 100 s: turns of 1-6 s, a third of them overlapping the previous one."""
    people = [cand] + [v.others[(11 * i + j) % len(v.others)] for j in range(1 + i % 3)]
    scene, t, far = Scene(100), 2.0, i % 2 == 1
    last = cand
    while t < 90:
        who = cand if last != cand and rng.random() < 0.5 else people[int(rng.integers(len(people)))]
        end = scene.say(t, who, v.piece(who, rng, float(rng.uniform(1, 6))), far=far and who != cand)
        t = end - float(rng.uniform(0.3, 1.2)) if rng.random() < 0.33 else end + float(rng.uniform(0.2, 2.5))
        last = who
    chain = "far" if i % 4 == 3 else "laptop"
    cond = "far-field" if far or chain == "far" else "other-mic"
    return _sample(scene, f"real-meeting-{cond}-{cand}-{len(people)}", chain, 500 * i, _dominant(scene, people),
                   out_dir, None)


def _dominant(scene: Scene, people: list[str]) -> str:
    return max(people, key=scene.speech_s)
