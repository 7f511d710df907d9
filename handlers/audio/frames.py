"""The shared time grid: 32 ms frames of 512 samples, per-frame level, and interval helpers.

Every per-frame decision (speech probability, level, flatness, dead microphone) lives on the
same grid as silero-vad's 512-sample chunks, so masks combine with ``&`` and ``~``.
:func:`runs` turns a boolean mask into ``(start_s, end_s)`` intervals and :func:`merge`
bridges short gaps and drops short pieces: every check ends with those two.
"""

from __future__ import annotations

import numpy as np

from handlers.audio.decode import SAMPLE_RATE

__all__ = ["FRAME", "FRAME_S", "dilate", "frame_levels", "frame_view", "level_db", "merge", "run_bounds", "runs",
           "to_frames"]

FRAME = 512
FRAME_S = FRAME / SAMPLE_RATE  # 0.032 s
_FLOOR_DB = -120.0


def frame_view(audio: np.ndarray) -> np.ndarray:
    """``(n_frames, 512)`` view of the whole frames of ``audio`` (the tail < 32 ms is dropped)."""
    n = len(audio) // FRAME
    return audio[: n * FRAME].reshape(n, FRAME)


def level_db(audio: np.ndarray) -> np.ndarray:
    """RMS level of each frame of ``audio`` in dBFS after removing its mean (DC is not sound)."""
    return frame_levels(frame_view(audio))


def frame_levels(frames: np.ndarray, chunk_frames: int = 8192) -> np.ndarray:
    """:func:`level_db` of ``(n, 512)`` frames."""
    out = np.empty(len(frames), dtype=np.float32)
    for i in range(0, len(frames), chunk_frames):
        block = frames[i : i + chunk_frames]
        var = block.var(axis=1)
        out[i : i + chunk_frames] = 10.0 * np.log10(np.maximum(var, 1e-12))
    return np.maximum(out, _FLOOR_DB)


def dilate(mask: np.ndarray, frames: int) -> np.ndarray:
    """``mask`` grown by ``frames`` on each side of every True frame."""
    if not len(mask) or frames <= 0:
        return np.asarray(mask, bool).copy()
    counts = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
    index = np.arange(len(mask))
    low, high = np.clip(index - frames, 0, len(mask)), np.clip(index + frames + 1, 0, len(mask))
    return counts[high] > counts[low]


def run_bounds(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True frames as ``(first, end)`` frame indices (end exclusive)."""
    if not len(mask):
        return []
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def runs(mask: np.ndarray) -> list[tuple[float, float]]:
    """Maximal runs of True frames as ``(start_s, end_s)``."""
    return [(a * FRAME_S, b * FRAME_S) for a, b in run_bounds(mask)]


def merge(intervals: list[tuple[float, float]], gap_s: float, min_s: float) -> list[tuple[float, float]]:
    """Join intervals closer than ``gap_s``, then drop those shorter than ``min_s``."""
    joined: list[list[float]] = []
    for start, end in sorted(intervals):
        if joined and start - joined[-1][1] < gap_s:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(a, b) for a, b in joined if b - a >= min_s]


def to_frames(intervals: list[tuple[float, float]], n_frames: int) -> np.ndarray:
    """A frame mask that is True inside any of the intervals."""
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in intervals:
        mask[max(0, int(round(start / FRAME_S))) : max(0, int(round(end / FRAME_S)))] = True
    return mask
