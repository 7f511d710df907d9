"""Voice activity: silero-vad's ONNX model on plain onnxruntime, no torch.

The model comes from the ``silero-vad`` wheel (MIT), installed with ``--no-deps`` so that it
does not pull torch; the package itself is never imported (its ``__init__`` imports torch):
the file is located with ``importlib.util.find_spec``. We use the wheel's
``silero_vad_16k_sequence.onnx``, the same network as ``silero_vad.onnx`` exported to take a
whole block of 32 ms chunks per call (one call per ~33 s instead of one per chunk: 5x less
CPU here; per-chunk probabilities within 0.011 of the streaming model).

The audio is cut into pieces of at most 120 s (at the quietest frame of the last 5 s; each
piece starts with a fresh model state) as soon as ffmpeg has decoded them, and pieces run on
two threads while decoding goes on. Frames quieter than ``gate_db`` (digital silence, a dead
microphone, a very quiet room), with 0.5 s margins, are not sent to the model.
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from handlers.audio.decode import Stream
from handlers.audio.frames import FRAME, FRAME_S, dilate, frame_levels, frame_view, merge, run_bounds, runs

__all__ = ["MODEL_FILE", "model_path", "scan", "speech_segments"]

MODEL_FILE = "silero_vad_16k_sequence.onnx"
_CONTEXT = 64
_BLOCK_FRAMES = 1024
_PIECE_FRAMES = 3750  # 120 s: longest piece run with one model state
_CUT_WINDOW = 156  # a piece ends at the quietest frame of its last 5 s
_GATE_MARGIN_FRAMES = 16  # 0.5 s of quiet kept around loud stretches
_THREADS = 2


def model_path() -> Path:
    """The silero model file inside the installed ``silero-vad`` wheel (without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or spec.origin is None:
        raise RuntimeError("silero-vad is not installed: run handlers/audio/install.sh")
    path = Path(spec.origin).parent / "data" / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"silero-vad has no {MODEL_FILE}: install silero-vad==6.2.3")
    return path


@lru_cache(maxsize=1)
def _session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # parallelism comes from running pieces on two threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])


def scan(source: Stream | np.ndarray, gate_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame level (dBFS) and speech probability of ``source``, computed as it decodes.

    ``source`` is a decoding :class:`Stream` (the model starts on the first two minutes while
    ffmpeg decodes the rest) or an array. Frames under ``gate_db`` get probability 0.
    """
    src = source if isinstance(source, Stream) else _Ready(source)
    levels: list[np.ndarray] = []
    jobs = []
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        start = 0
        while (have := src.wait_for((start + _PIECE_FRAMES + 1) * FRAME) // FRAME) > start:
            frames = frame_view(src.samples())
            block = frame_levels(frames[start:have])
            if have > start + _PIECE_FRAMES:  # cut at the quietest frame of the last 5 s
                cut = _PIECE_FRAMES - _CUT_WINDOW + int(np.argmin(block[_PIECE_FRAMES - _CUT_WINDOW : _PIECE_FRAMES]))
                block = block[:cut]
            levels.append(block)
            for a, b in run_bounds(dilate(block > gate_db, _GATE_MARGIN_FRAMES)):
                jobs.append((start + a, pool.submit(_run, frames[start + a : start + b])))
            start += len(block)
        probs = np.zeros(start, dtype=np.float32)
        for a, job in jobs:
            p = job.result()
            probs[a : a + len(p)] = p
    return (np.concatenate(levels) if levels else np.zeros(0, np.float32)), probs


class _Ready:
    """An already decoded array, with :class:`Stream`'s reading interface."""

    def __init__(self, audio: np.ndarray) -> None:
        self._audio = audio

    def wait_for(self, samples: int) -> int:
        return len(self._audio)

    def samples(self) -> np.ndarray:
        return self._audio


def _run(frames: np.ndarray) -> np.ndarray:
    """Probabilities of consecutive frames, starting from a fresh model state."""
    session = _session()
    h = np.zeros((1, 1, 128), dtype=np.float32)
    c = np.zeros((1, 1, 128), dtype=np.float32)
    context = np.zeros(_CONTEXT, dtype=np.float32)
    out = []
    for i in range(0, len(frames), _BLOCK_FRAMES):
        block = frames[i : i + _BLOCK_FRAMES]
        rows = np.empty((len(block), _CONTEXT + FRAME), dtype=np.float32)
        rows[:, _CONTEXT:] = block
        rows[0, :_CONTEXT] = context
        rows[1:, :_CONTEXT] = block[:-1, -_CONTEXT:]
        context = block[-1, -_CONTEXT:]
        p, h, c = session.run(None, {"input": rows, "h": h, "c": c})
        out.append(p.reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def speech_segments(
    probs: np.ndarray, threshold: float, min_silence_s: float = 0.25, min_speech_s: float = 0.25
) -> list[tuple[float, float]]:
    """Speech as ``(start_s, end_s)``, with silero's hysteresis.

    A segment is a run of frames above ``threshold - 0.15`` that reaches ``threshold`` at least
    once; pauses shorter than ``min_silence_s`` are bridged, pieces shorter than
    ``min_speech_s`` dropped, and each end padded by one frame.
    """
    low = probs >= max(0.01, threshold - 0.15)
    segments = []
    for start_s, end_s in runs(low):
        a, b = int(round(start_s / FRAME_S)), int(round(end_s / FRAME_S))
        if probs[a:b].max() >= threshold:
            segments.append((max(0.0, start_s - FRAME_S), min(len(probs) * FRAME_S, end_s + FRAME_S)))
    return merge(segments, min_silence_s, min_speech_s)
