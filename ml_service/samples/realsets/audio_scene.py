"""One session of the real audio set: real utterances placed on a timeline, annotated, rendered.

Annotations are made here, from the clean source before any chain: inside each placed
utterance, speech is the 32 ms frames within 30 dB of the utterance's loudest frame (and above
-60 dBFS), pauses under 0.3 s bridged, pieces under 0.15 s dropped. Each piece is a speech item
of its speaker; the truth of the handler's checks follows from the items by the same rules as
the generated set (:meth:`ml_service.samples.audio.Clip.truth`), and the pieces are also
written as RTTM (speaker turns) for the diarization figures.

Voices placed ``far`` get the far-field room (0.6 s RT60, -3 dB direct-to-reverberant, -10 dB)
before everything goes through the session's microphone chain; ``cut`` overwrites a stretch of
the rendered signal (a mute, a dead or unplugged input) and is annotated ``mic_muted_or_dead``.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ml_service.samples.realsets import audio_chain
from ml_service.samples.audio import Clip

__all__ = ["Scene", "speech_pieces"]

RATE = audio_chain.RATE
_FRAME = 512


def speech_pieces(wav: np.ndarray) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of the speech inside a clean utterance (see the module docstring)."""
    n = len(wav) // _FRAME
    if n == 0:
        return []
    levels = 10 * np.log10(np.mean(wav[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1) + 1e-12)
    loud = levels > max(levels.max() - 30.0, -60.0)
    pieces: list[list[float]] = []
    for i in np.flatnonzero(loud):
        start, end = i * _FRAME / RATE, (i + 1) * _FRAME / RATE
        if pieces and start - pieces[-1][1] < 0.3:
            pieces[-1][1] = end
        else:
            pieces.append([start, end])
    return [(a, b) for a, b in pieces if b - a >= 0.15]


class Scene:
    """A session of ``seconds``: near and far voices, cuts, and what was placed where."""

    def __init__(self, seconds: float) -> None:
        self.n = int(seconds * RATE)
        self.near = np.zeros(self.n, np.float32)
        self.far = np.zeros(self.n, np.float32)
        self.items: list[tuple[str, float, float, str]] = []
        self.cuts: list[tuple[float, float, str]] = []

    def say(self, at: float, voice: str, wav: np.ndarray, far: bool = False, gain_db: float = 0.0) -> float:
        """Place ``wav`` (clean speech, any level) at ``at`` s; returns where it ends."""
        i = int(at * RATE)
        wav = wav[: max(0, self.n - i)]
        level = float(np.sqrt(np.mean(wav**2))) or 1.0
        (self.far if far else self.near)[i : i + len(wav)] += wav * np.float32(10 ** ((-20 + gain_db) / 20) / level)
        self.items += [("speech", at + a, at + b, voice) for a, b in speech_pieces(wav)]
        return at + len(wav) / RATE

    def cut(self, at: float, seconds: float, kind: str) -> None:
        """After rendering, replace ``seconds`` from ``at`` by ``kind``: zeros, dc, hiss."""
        self.cuts.append((at, at + seconds, kind))
        self.items.append(("mute", at, at + seconds, ""))

    def render(self, chain: str, seed: int) -> np.ndarray:
        """The session as ``chain``'s microphone heard it, cuts applied."""
        far = audio_chain.reverb(self.far, 0.6, -3.0, seed + 7) * np.float32(10 ** (-10 / 20)) if self.far.any() else 0
        y = audio_chain.apply(self.near + far, chain, seed)
        rng = np.random.default_rng(seed + 11)
        for start, end, kind in self.cuts:
            a, b = int(start * RATE), int(end * RATE)
            if kind == "zeros":
                y[a:b] = 0.0
            elif kind == "dc":
                y[a:b] = np.float32(0.02)
            else:  # an unplugged input: electrical hiss at -85 dBFS
                y[a:b] = rng.standard_normal(b - a).astype(np.float32) * np.float32(10 ** (-85 / 20))
        return y

    def truth(self, candidate: str) -> list[dict]:
        """The truth events, by the generated set's rules (speech, voices, episodes, mutes)."""
        return Clip.truth(SimpleNamespace(items=sorted(self.items)), candidate)

    def speech_s(self, voice: str) -> float:
        return sum(e - s for kind, s, e, v in self.items if kind == "speech" and v == voice)

    def rttm(self, name: str) -> str:
        """Speaker turns (the speech items) as RTTM lines."""
        return "".join(f"SPEAKER {name} 1 {s:.3f} {e - s:.3f} <NA> <NA> {v} <NA> <NA>\n"
                       for kind, s, e, v in sorted(self.items, key=lambda t: t[1]) if kind == "speech")
