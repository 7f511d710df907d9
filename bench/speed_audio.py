"""Speed of the audio handler (see docs/samples-and-bench.md; run by bench/speed.py).

- ``decode_only``: ffmpeg decodes the audio track to 16 kHz mono float32 through the same pipe
  the handler uses, and nothing else.
- ``pipeline``: ``handlers.audio.audio.process`` on the file, as the worker calls it (decode,
  VAD, embeddings on speech only, clustering, noise, dead microphone).
- ``naive``: what the same models cost without the VAD's help: after the decode, a speaker
  embedding on every 1.6 s window (0.8 s hop) of the whole recording, silence and noise
  included, plus silero-vad's streaming model chunk by chunk; it stops after ``budget_s`` and
  extrapolates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from _common import handler_on

import handlers.audio.audio  # noqa: F401 - imported before the timed call
from handlers.audio import embedding
from handlers.audio.decode import SAMPLE_RATE, decode
from handlers.audio.vad import model_path

__all__ = ["MODALITY", "decode_only", "naive", "pipeline"]

MODALITY = "audio"
_PIECE_S = 32.0  # naive: embed and VAD this much audio per step, then check the budget


def decode_only(path: Path) -> dict[str, Any]:
    """Decode every sample; return how many and the peak level."""
    audio = decode(Path(path))
    peak = max(float(audio.max()), -float(audio.min())) if len(audio) else 0.0
    return {"samples": len(audio), "seconds": len(audio) / SAMPLE_RATE, "peak": peak}


def pipeline(path: Path) -> dict[str, Any]:
    """The handler on the file, as the worker calls it; returns its result."""
    return handler_on(MODALITY, path)


def naive(path: Path, budget_s: float) -> dict[str, Any]:
    """Embeddings on every window and the streaming VAD on every chunk; extrapolated after ``budget_s``."""
    started = time.perf_counter()
    audio = decode(Path(path))
    decoded_s = time.perf_counter() - started
    stream = _streaming_vad()
    piece = int(_PIECE_S * SAMPLE_RATE)
    done = 0
    while done < len(audio) and time.perf_counter() - started < budget_s:
        chunk = audio[done : done + piece]
        mels, _ = embedding.window_mels(embedding.normalize_volume(chunk), hop_frames=80)
        embedding.embed(mels)
        stream(chunk)
        done += len(chunk)
    spent = time.perf_counter() - started - decoded_s
    media_s = len(audio) / SAMPLE_RATE
    per_s = (decoded_s + spent * len(audio) / max(done, 1)) / media_s
    return {"seconds_per_media_second": per_s, "extrapolated": done < len(audio),
            "analysed_s": done / SAMPLE_RATE}


def _streaming_vad():
    """silero_vad.onnx as its own utilities run it: one 512-sample chunk per call."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_path().with_name("silero_vad.onnx")), options,
                                   providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    rate = np.array(SAMPLE_RATE, dtype=np.int64)

    def run(chunk: np.ndarray) -> None:
        nonlocal state
        context = np.zeros(64, np.float32)
        for i in range(0, len(chunk) - 511, 512):
            frame = np.concatenate([context, chunk[i : i + 512]])[None]
            _, state = session.run(None, {"input": frame, "state": state, "sr": rate})
            context = chunk[i + 448 : i + 512]

    return run
