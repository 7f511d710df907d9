"""A muted or dead microphone: digital silence or a flat signal for a long stretch.

A working microphone always hears something (a quiet room is about -60 to -50 dBFS). Frames
whose level, after removing any DC offset, stays under ``dead_db`` for at least ``min_s``
are reported: ``digital_silence`` when every sample is exactly equal (muted in software,
or a constant DC value), ``flat_signal`` when a trace of noise remains (a dead or
disconnected microphone, heavy codec gating). Stretches closer than 0.25 s are joined, so a
click while unmuting does not split one event in two.
"""

from __future__ import annotations

import numpy as np

from handlers.audio.decode import SAMPLE_RATE
from handlers.audio.frames import merge, runs

__all__ = ["dead_mask", "mic_dead_events"]

_JOIN_S = 0.25


def dead_mask(levels: np.ndarray, dead_db: float) -> np.ndarray:
    """Frames quieter than ``dead_db`` dBFS."""
    return levels < dead_db


def mic_dead_events(audio: np.ndarray, levels: np.ndarray, dead_db: float, min_s: float) -> list[dict]:
    """``mic_muted_or_dead`` violations."""
    events = []
    for start_s, end_s in merge(runs(dead_mask(levels, dead_db)), _JOIN_S, min_s):
        piece = audio[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
        exact = bool(len(piece)) and float(piece.max() - piece.min()) == 0.0
        frames = levels[int(start_s / 0.032) : int(end_s / 0.032)]
        level = float(10 * np.log10(np.mean(10 ** (frames / 10.0)))) if len(frames) else -120.0
        events.append({
            "type": "mic_muted_or_dead",
            "start_s": round(start_s, 3),
            "end_s": round(end_s, 3),
            "confidence": 0.99 if exact else 0.9,
            "details": {"kind": "digital_silence" if exact else "flat_signal",
                        "level_dbfs": round(max(level, -120.0), 1)},
        })
    return events
