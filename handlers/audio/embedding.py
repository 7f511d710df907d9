"""Speaker embeddings: resemblyzer's voice encoder, exported to ONNX, on numpy mel frames.

``models/speaker_encoder.onnx`` is resemblyzer 0.1.4's GE2E encoder (3-layer LSTM, 256-d,
Apache-2.0), exported once by ``tools/export_speaker_encoder.py`` (see
``models/PROVENANCE.md``), so neither the image nor CI needs torch. Its input is what
resemblyzer feeds it: 40-band mel *power* frames (25 ms window, 10 ms hop, no log), 160 frames
(1.6 s) per window; its output is an L2-normalised, non-negative 256-d embedding.

:func:`mel_frames` reproduces ``librosa.feature.melspectrogram`` (librosa 0.11 defaults:
centred, zero padding, periodic Hann, Slaney mel scale and norm) in numpy, so librosa is not
needed at run time. :func:`window_mels` cuts a speech stretch into windows the way
resemblyzer's ``embed_utterance`` does (last window kept if 75 % full, zero-padded).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from handlers.audio.decode import SAMPLE_RATE

__all__ = ["MODEL_PATH", "WINDOW_FRAMES", "embed", "mel_frames", "normalize_volume", "window_mels"]

MODEL_PATH = Path(__file__).resolve().parent / "models" / "speaker_encoder.onnx"
N_FFT, HOP, N_MELS = 400, 160, 40  # 25 ms, 10 ms, 40 bands
WINDOW_FRAMES = 160  # 1.6 s
TARGET_DBFS = -30.0  # resemblyzer's audio_norm_target_dBFS (increase only)
_BATCH = 64


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, hz)


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """``(N_FFT // 2 + 1, N_MELS)`` Slaney-normalised triangular filters, as librosa builds them."""
    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.T.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """``(1 + len(wav) // 160, 40)`` mel power frames, as resemblyzer's ``wav_to_mel_spectrogram``."""
    padded = np.pad(np.asarray(wav, dtype=np.float32), N_FFT // 2)
    n = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:n]
    spectrum = np.fft.rfft(frames * _window(), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ _mel_basis()


def normalize_volume(wav: np.ndarray) -> np.ndarray:
    """Raise a quiet stretch to -30 dBFS RMS, as resemblyzer does before embedding."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 1e-8:
        return wav
    gain_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return wav * np.float32(10 ** (gain_db / 20)) if gain_db > 0 else wav


def window_mels(wav: np.ndarray, hop_frames: int, min_coverage: float = 0.75) -> tuple[np.ndarray, list[int]]:
    """Windows of 160 mel frames every ``hop_frames`` over ``wav``, and each one's first frame.

    Same slicing as resemblyzer's ``compute_partial_slices``: the audio is zero-padded to
    cover the last window, which is dropped when less than ``min_coverage`` of it is real
    (unless it is the only one).
    """
    n_frames = int(np.ceil((len(wav) + 1) / HOP))
    steps = max(1, n_frames - WINDOW_FRAMES + hop_frames + 1)
    starts = list(range(0, steps, hop_frames))
    coverage = (len(wav) - starts[-1] * HOP) / (WINDOW_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts.pop()
    needed = (starts[-1] + WINDOW_FRAMES) * HOP
    if needed >= len(wav):
        wav = np.pad(wav, (0, needed - len(wav)))
    mel = mel_frames(wav)
    return np.stack([mel[s : s + WINDOW_FRAMES] for s in starts]), starts


@lru_cache(maxsize=1)
def _session() -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # two batches run at once instead
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(MODEL_PATH), options, providers=["CPUExecutionProvider"])


def embed(mels: np.ndarray, threads: int = 2) -> np.ndarray:
    """``(n, 256)`` unit embeddings of ``(n, frames, 40)`` mel windows, in batches on two threads."""
    if not len(mels):
        return np.zeros((0, 256), dtype=np.float32)
    session = _session()
    batches = [mels[i : i + _BATCH].astype(np.float32) for i in range(0, len(mels), _BATCH)]
    run = lambda batch: session.run(None, {"mels": batch})[0]  # noqa: E731
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return np.concatenate(list(pool.map(run, batches)))
