"""A muted, dead or unplugged microphone, told apart from the near-silence of noise suppression.

Stretches whose level (after removing DC) stays under ``dead_db`` for at least ``min_s``
(stretches closer than 0.25 s joined, so a click while unmuting does not split one event) are
candidates. Browsers record with noise suppression on by default, which gates the room between
words down to -75..-95 dBFS: quiet alone proves nothing. A candidate is reported only when the
signal itself shows that no microphone is listening:

- ``digital_silence``: every sample equal (peak-to-peak under 1e-5, a third of a 16-bit step)
  or no signal at all (median level under -100 dBFS, below a 16-bit recording's own floor):
  a software mute, codec silence frames, or a constant DC value from a dead input;
- ``flat_signal``: electrical hiss and nothing else: steady (the 10-90 % spread of its 32 ms
  levels at most 1.5 dB) and white (spectral flatness over 100 Hz-7 kHz at least 0.75). A dead
  or unplugged input's own noise is both (measured: 0.1-0.9 dB and 0.75-0.99, in WAV and after
  Opus); what noise suppression leaves of a room is not (2-3 dB and <= 0.5 after Opus: gain
  that moves, breath and clicks let through, the room's coloured spectrum).

Each ~1 s block of a candidate stretch is judged alone (a stretch may hold a cut next to a
suppressed pause); runs of dead blocks of at least ``min_s`` are reported.

Anything else under ``dead_db`` is a quiet or noise-suppressed pause and is not reported;
:func:`quiet_facts` counts such stretches for ``result["media"]``.
"""

from __future__ import annotations

import numpy as np

from handlers.audio.decode import SAMPLE_RATE
from handlers.audio.frames import FRAME_S, merge, runs

__all__ = ["classify", "dead_mask", "flatness", "mic_dead_events", "quiet_facts"]

_JOIN_S = 0.25
_EQUAL = 1e-5  # peak-to-peak of a constant signal after a codec (Opus decodes DC to within 1e-6)
_MAX_SPREAD_DB = 1.5
_MIN_FLATNESS = 0.75
_NO_SIGNAL_DB = -100.0  # median 32 ms level under the 16-bit floor: no signal at all (Opus-decoded zeros)
_BLOCK = 31  # frames (~1 s) classified together
_NFFT = 512


def dead_mask(levels: np.ndarray, dead_db: float) -> np.ndarray:
    """Frames quieter than ``dead_db`` dBFS."""
    return levels < dead_db


def flatness(piece: np.ndarray) -> float:
    """Spectral flatness (geometric / arithmetic mean of the mean power spectrum), 100 Hz-7 kHz."""
    n = len(piece) // _NFFT
    if n == 0:
        return 0.0
    frames = piece[: n * _NFFT].reshape(n, _NFFT)[:: max(1, n // 256)]
    frames = frames - frames.mean(axis=1, keepdims=True)
    power = (np.abs(np.fft.rfft(frames * np.hanning(_NFFT), axis=1)) ** 2).mean(axis=0)
    f = np.fft.rfftfreq(_NFFT, 1 / SAMPLE_RATE)
    band = power[(f >= 100) & (f <= 7000)] + 1e-30
    return float(np.exp(np.mean(np.log(band))) / np.mean(band))


def classify(piece: np.ndarray, frame_levels: np.ndarray) -> str | None:
    """``digital_silence``, ``flat_signal`` or None (a quiet or noise-suppressed pause)."""
    if not len(piece):
        return None
    if float(piece.max() - piece.min()) <= _EQUAL or float(np.median(frame_levels)) <= _NO_SIGNAL_DB:
        return "digital_silence"
    spread = float(np.percentile(frame_levels, 90) - np.percentile(frame_levels, 10)) if len(frame_levels) else 99.0
    if spread <= _MAX_SPREAD_DB and flatness(piece) >= _MIN_FLATNESS:
        return "flat_signal"
    return None


def _stretches(levels: np.ndarray, dead_db: float, min_s: float) -> list[tuple[float, float]]:
    return merge(runs(dead_mask(levels, dead_db)), _JOIN_S, min_s)


def _dead_runs(audio: np.ndarray, levels: np.ndarray, start_s: float, end_s: float,
               min_s: float) -> list[tuple[float, float, str]]:
    """Runs of ~1 s blocks of one quiet stretch that show no microphone, with their kind.

    A stretch can hold a cut and a suppressed pause side by side, so each block is classified
    alone; a run that reaches the stretch's first or last block takes the stretch's edge
    (where a codec rings, the edge block itself may not look dead).
    """
    a, b = int(round(start_s / FRAME_S)), int(round(end_s / FRAME_S))
    bounds = list(range(a, b, _BLOCK)) + [b]
    kinds = [classify(audio[int(x * FRAME_S * SAMPLE_RATE) : int(y * FRAME_S * SAMPLE_RATE)], levels[x:y])
             for x, y in zip(bounds, bounds[1:])]
    out, i = [], 0
    while i < len(kinds):
        j = i
        while j < len(kinds) and kinds[j] is not None:
            j += 1
        if j > i:
            s = start_s if i <= 1 else bounds[i] * FRAME_S
            e = end_s if j >= len(kinds) - 1 else bounds[j] * FRAME_S
            kind = max(set(kinds[i:j]), key=kinds[i:j].count)
            if e - s >= min_s:
                out.append((s, e, kind))
        i = j + 1
    return out


def mic_dead_events(audio: np.ndarray, levels: np.ndarray, dead_db: float, min_s: float) -> list[dict]:
    """``mic_muted_or_dead`` violations."""
    events = []
    for stretch in _stretches(levels, dead_db, min_s):
        for start_s, end_s, kind in _dead_runs(audio, levels, *stretch, min_s):
            frames = levels[int(start_s / FRAME_S) : int(end_s / FRAME_S)]
            level = float(10 * np.log10(np.mean(10 ** (frames / 10.0)))) if len(frames) else -120.0
            events.append({
                "type": "mic_muted_or_dead",
                "start_s": round(start_s, 3),
                "end_s": round(end_s, 3),
                "confidence": 0.99 if kind == "digital_silence" else 0.85,
                "details": {"kind": kind, "level_dbfs": round(max(level, -120.0), 1)},
            })
    return events


def quiet_facts(audio: np.ndarray, levels: np.ndarray, dead_db: float, min_s: float) -> dict[str, float | int]:
    """Stretches under ``dead_db`` with no dead-microphone run in them: how many, how long in all."""
    quiet = [(s, e) for s, e in _stretches(levels, dead_db, min_s) if not _dead_runs(audio, levels, s, e, min_s)]
    return {"quiet_pauses": len(quiet), "quiet_pause_s": round(sum(e - s for s, e in quiet), 1)}
