"""Background noise on the parts without speech: level in dBFS and tonal vs broadband.

Frames that are neither speech nor a dead microphone and reach ``noise_db`` form noise
events (gaps under ``merge_gap_s`` joined, events under ``min_s`` dropped). Noise must be
sustained, not a train of impulses (typing, clicks, a pen tapping): an event is dropped when
its loud frames cover less than half of it, or when its 8 ms levels are impulsive (95th
percentile more than 15 dB above the median; measured: typing 25-26 dB, white, pink noise
and chords 1-3 dB). Each event gets its energy-mean and peak level in dBFS and a kind:

- ``tonal`` (music, a whistle, mains hum): most of the energy sits in narrow spectral peaks,
  i.e. bins of a 2048-point spectrum (7.8 Hz) more than 10x (10 dB) above the median of
  their +-8-bin neighbourhood;
- ``broadband`` (fan, traffic, rustling, chatter-like noise): energy spread over the band.

Measured on generated noise over room tone: white, pink and brown noise put about 1 % of
their energy in such peaks, chords of harmonics and 50 Hz hum 98-99 % (70 % for chords only
5 dB above the room). The split is made at 50 %.
"""

from __future__ import annotations

import numpy as np

from handlers.audio.decode import SAMPLE_RATE
from handlers.audio.frames import FRAME_S, merge, runs

__all__ = ["impulsiveness_db", "noise_events", "speech_like", "tonal_share"]

_PEAK_RATIO = 10.0
_TONAL_SHARE = 0.5
_NFFT = 2048
_HALF = 8  # neighbourhood of a bin, each side
_MAX_WINDOWS = 64  # windows analysed per event for its kind (evenly spread)
_MIN_COVER = 0.5  # share of an event's frames that must be loud
_MAX_SPREAD_DB = 15.0  # 95th percentile minus median of 8 ms levels: above it, impulses
_HALF_HEARD_P, _HALF_HEARD_SHARE = 0.1, 0.1  # far speech: 12-85 % of frames at p >= 0.1; noise: 0 %
_SYLLABIC_SWING_DB = 10.0  # 10-90 % spread of 32 ms levels: far speech 12-24 dB, fan/pink/music 1-2 dB


def tonal_share(audio: np.ndarray) -> float:
    """Median share of energy in narrow spectral peaks over 2048-sample windows of ``audio``."""
    n = len(audio) // _NFFT
    if n == 0:
        return 0.0
    windows = audio[: n * _NFFT].reshape(n, _NFFT)[np.linspace(0, n - 1, min(n, _MAX_WINDOWS)).astype(int)]
    spectrum = np.abs(np.fft.rfft(windows * np.hanning(_NFFT).astype(np.float32), axis=1)) ** 2
    spectrum = spectrum[:, 2:] + 1e-12  # ignore DC and the lowest bin
    padded = np.pad(spectrum, ((0, 0), (_HALF, _HALF)), mode="edge")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * _HALF + 1, axis=1), axis=2)
    peaks = spectrum > _PEAK_RATIO * local
    share = (spectrum * peaks).sum(axis=1) / spectrum.sum(axis=1)
    return float(np.median(share))


def impulsiveness_db(audio: np.ndarray) -> float:
    """95th percentile minus median of the 8 ms (128-sample) levels of ``audio``, in dB."""
    n = len(audio) // 128
    if n < 2:
        return 0.0
    levels = 10 * np.log10(audio[: n * 128].reshape(n, 128).var(axis=1) + 1e-12)
    return float(np.percentile(levels, 95) - np.median(levels))


def speech_like(levels: np.ndarray, probs: np.ndarray) -> bool:
    """Distant or reverberant speech the VAD half-heard: some frames at p >= 0.1, syllabic level swings."""
    if not len(levels):
        return False
    swing = float(np.percentile(levels, 90) - np.percentile(levels, 10))
    return float(np.mean(probs >= _HALF_HEARD_P)) >= _HALF_HEARD_SHARE and swing >= _SYLLABIC_SWING_DB


def noise_events(audio: np.ndarray, levels: np.ndarray, quiet_mask: np.ndarray, noise_db: float,
                 min_s: float, merge_gap_s: float, probs: np.ndarray | None = None) -> list[dict]:
    """``background_noise`` violations; ``quiet_mask`` marks frames to look at (no speech, mic alive)."""
    loud = quiet_mask & (levels >= noise_db)
    events = []
    for start_s, end_s in merge(runs(loud), merge_gap_s, min_s):
        a, b = int(round(start_s / FRAME_S)), int(round(end_s / FRAME_S))
        piece = audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
        if loud[a:b].sum() < _MIN_COVER * (b - a) or impulsiveness_db(piece) > _MAX_SPREAD_DB:
            continue
        if probs is not None and speech_like(levels[a:b], probs[a:b]):
            continue
        share = tonal_share(piece)
        db = levels[a:b][loud[a:b]]
        mean_db = float(10 * np.log10(np.mean(10 ** (db / 10.0))))
        events.append({
            "type": "background_noise",
            "start_s": round(start_s, 3),
            "end_s": round(end_s, 3),
            "confidence": round(float(np.clip(0.6 + (mean_db - noise_db) / 25.0, 0.6, 0.99)), 3),
            "details": {"level_dbfs": round(mean_db, 1), "peak_dbfs": round(float(db.max()), 1),
                        "kind": "tonal" if share >= _TONAL_SHARE else "broadband",
                        "tonal_share": round(share, 3)},
        })
    return events
