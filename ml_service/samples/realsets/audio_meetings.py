"""Real annotated meetings of the audio set: AMI excerpts with the corpus' published speaker turns.

Each excerpt is real meeting audio (several people in one room, overlaps, short turns) with
its RTTM: the AMI manual annotations (words only) as published by BUT's AMI-diarization-setup.
An excerpt's RTTM lines are cut to the excerpt (``offset_s`` is where the excerpt starts in the
meeting, measured by aligning the RTTM's speech with the excerpt's VAD: correlation 0.59 at
184.28 s, next best 0.49 elsewhere; the turns the excerpt's own source README prints for it
match to 0.03 s). Turns of one speaker less than 0.3 s apart are joined, as in
:mod:`ml_service.samples.realsets.audio_scene`.

Each excerpt is written as recorded and through the set's chains (:mod:`audio_chain`), so one
real room is also heard as a laptop, phone or browser would deliver it (raised to -24 dBFS
first, as the device's input gain would: the chains' room tone assumes speech near -20 dBFS). Names are
``real-ami-<condition>-<meeting>-<chain>``; the truth follows from the turns by the generated
set's rules (speech, ``multiple_speakers`` episodes, the dominant speaker as the candidate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ml_service.samples.realsets import audio_chain
from ml_service.samples.audio import Clip, write_audio
from ml_service.samples.truth import Sample

__all__ = ["EXCERPTS", "Excerpt", "meeting_samples", "turns_in"]

_JOIN_S = 0.3
_CHAIN_DBFS = -24.0  # a distant excerpt is raised to this (RMS) before a chain, as a device's input gain would


@dataclass(frozen=True)
class Excerpt:
    """An AMI excerpt: its audio and RTTM file ids, meeting, start in the meeting, microphone."""

    audio_id: str
    rttm_id: str
    meeting: str
    offset_s: float
    condition: str  # the excerpt as recorded: far-field (a distant microphone) or close-talk


EXCERPTS = (Excerpt("ami-EN2002a-30s", "ami-EN2002a-rttm", "EN2002a", 184.28, "far-field"),)
# chain -> condition of the excerpt heard through it (None: as recorded)
_CHAINS = {None: None, "laptop": None, "phone": None, "browser": "noise-suppressed"}


def turns_in(rttm: str, meeting: str, offset_s: float, seconds: float) -> list[tuple[float, float, str]]:
    """``(start_s, end_s, speaker)`` of ``meeting``'s RTTM turns inside the excerpt, excerpt time."""
    by: dict[str, list[list[float]]] = {}
    for line in sorted(rttm.splitlines(), key=lambda ln: float(ln.split()[3]) if ln.strip() else 0.0):
        f = line.split()
        if len(f) < 8 or f[0] != "SPEAKER" or f[1] != meeting:
            continue
        start, end = float(f[3]) - offset_s, float(f[3]) + float(f[4]) - offset_s
        start, end = max(start, 0.0), min(end, seconds)
        if end <= start:
            continue
        spans = by.setdefault(f[7], [])
        if spans and start - spans[-1][1] < _JOIN_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return sorted((round(s, 3), round(e, 3), who) for who, spans in by.items() for s, e in spans)


def meeting_samples(files: dict[str, Path], out_dir: Path) -> list[Sample]:
    """Every excerpt whose files are in ``files``, as recorded and through each chain."""
    samples = []
    for k, ex in enumerate(EXCERPTS):
        if ex.audio_id not in files or ex.rttm_id not in files:
            continue
        wav = audio_chain.read_audio(files[ex.audio_id])
        seconds = len(wav) / audio_chain.RATE
        turns = turns_in(files[ex.rttm_id].read_text(), ex.meeting, ex.offset_s, seconds)
        for j, chain in enumerate(_CHAINS):
            samples.append(_sample(ex, chain, wav, turns, 700 + 10 * k + j, out_dir))
    return samples


def _gain(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) or 1.0
    return (x * (10 ** (dbfs / 20) / rms)).astype(np.float32)


def _sample(ex: Excerpt, chain: str | None, wav: np.ndarray, turns, seed: int, out_dir: Path) -> Sample:
    cond = _CHAINS[chain] or ex.condition
    name = f"real-ami-{cond}-{ex.meeting}-{chain or 'as-recorded'}"
    heard = wav if chain is None else audio_chain.apply(_gain(wav, _CHAIN_DBFS), chain, seed)
    path = write_audio(heard, (out_dir / name).with_suffix(audio_chain.SUFFIX[chain or "headset"]))
    (out_dir / f"{name}.rttm").write_text("".join(
        f"SPEAKER {name} 1 {s:.3f} {e - s:.3f} <NA> <NA> {who} <NA> <NA>\n" for s, e, who in turns))
    items = [("speech", s, e, who) for s, e, who in turns]
    dominant = max({who for _, _, who in turns}, key=lambda w: sum(e - s for s, e, v in turns if v == w))
    truth = Clip.truth(SimpleNamespace(items=sorted(items)), dominant)
    return Sample(name=name, modality="audio", recordings=[path], duration_s=len(wav) / audio_chain.RATE,
                  truth=truth, checks=["speech", "multiple_speakers", "voice_mismatch", "background_noise",
                                       "mic_muted_or_dead", "conversation_hints"])
