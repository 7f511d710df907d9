"""Microphone and transmission chains applied to real speech: the "other microphone" conditions.

Each chain turns a clean, close-microphone 16 kHz recording into what another microphone, room or
codec would have delivered. Every step is deterministic (numpy with a fixed seed, Debian ffmpeg
codecs), so a real set built twice is the same set. What each chain does:

- ``headset``: the source itself (LibriSpeech readers' own microphones), high-passed at 60 Hz,
  with a quiet room (-68 dBFS) in the pauses between utterances.
- ``laptop``: a small built-in microphone a forearm away: 150 Hz-7 kHz band with a +5 dB
  presence peak at 3 kHz, a 0.35 s RT60 room (direct-to-reverberant ratio +6 dB), fan-like
  room tone at -52 dBFS, then Opus 48 kb/s (WebM), as a browser would send it.
- ``phone``: a phone call: room tone at -60 dBFS, 300-3400 Hz, 8 kHz, the GSM full-rate codec
  (libgsm), back to 16 kHz.
- ``far``: the microphone across the room: 0.6 s RT60, direct-to-reverberant ratio -3 dB,
  -14 dB of level, 120 Hz-6 kHz band, room tone at -50 dBFS, then Ogg/Opus.
- ``browser``: a WebRTC-like capture: the laptop microphone, then noise suppression (a
  spectral gain from a minimum-statistics noise estimate, down to -40 dB, whole frames without
  voice gated to -40 dB: pauses between words fall to about -75 to -95 dBFS, near-digital
  silence), automatic gain control (speech raised
  to -20 dBFS, held in pauses), then Opus 48 kb/s (WebM).

The reverberation is a generated impulse response (exponentially decaying noise), not a
measured one; the room tone is generated noise. The speech is always real.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

__all__ = ["CHAINS", "SUFFIX", "apply", "band", "codec", "noise_suppress_agc", "reverb", "room_tone"]

RATE = 16000
CHAINS = ("headset", "laptop", "phone", "far", "browser")


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _gain_to(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x * 10 ** ((dbfs - _db(x)) / 20)).astype(np.float32)


def band(x: np.ndarray, low_hz: float, high_hz: float, peak_hz: float = 0.0, peak_db: float = 0.0) -> np.ndarray:
    """Zero-phase band-pass with 12 dB/octave-like edges and an optional presence peak."""
    spec = np.fft.rfft(x.astype(np.float64))
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    gain = 1 / np.sqrt(1 + (low_hz / np.maximum(f, 1e-3)) ** 4) / np.sqrt(1 + (f / high_hz) ** 4)
    if peak_db:
        gain *= 10 ** (peak_db / 20 * np.exp(-0.5 * (np.log2(np.maximum(f, 1) / peak_hz) / 0.5) ** 2))
    return np.fft.irfft(spec * gain, len(x)).astype(np.float32)


def reverb(x: np.ndarray, rt60_s: float, drr_db: float, seed: int) -> np.ndarray:
    """``x`` in a generated room: a direct path plus an exponentially decaying noise tail."""
    rng = np.random.default_rng(seed)
    n = int(rt60_s * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    tail[: int(0.003 * RATE)] = 0.0  # first reflections arrive after ~3 ms
    tail = band(tail.astype(np.float32), 100, 5000).astype(np.float64)
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    rir = np.concatenate([[1.0], tail[1:]])
    size = 1 << int(np.ceil(np.log2(len(x) + n)))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(rir, size), size)[: len(x)]
    return wet.astype(np.float32)


def room_tone(n: int, dbfs: float, seed: int, alpha: float = 1.0) -> np.ndarray:
    """Generated 1/f^alpha noise (fan, ventilation) at ``dbfs``, nothing under 20 Hz."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec[f < 20] = 0
    return _gain_to(np.fft.irfft(spec / np.maximum(f, 60.0) ** (alpha / 2), n), dbfs)


def codec(x: np.ndarray, args: list[str], fmt: str, rate: int = RATE) -> np.ndarray:
    """``x`` encoded by ffmpeg (``args``, container ``fmt``) and decoded back to 16 kHz float32."""
    pcm = np.clip(x, -1, 1).astype(np.float32).tobytes()
    encoded = subprocess.run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0",
                              "-ar", str(rate), *args, "-f", fmt, "pipe:1"], input=pcm, capture_output=True,
                             check=True).stdout
    raw = subprocess.run(["ffmpeg", "-v", "error", "-f", fmt, "-i", "pipe:0", "-ac", "1", "-ar", str(RATE),
                          "-f", "f32le", "pipe:1"], input=encoded, capture_output=True, check=True).stdout
    y = np.frombuffer(raw, np.float32)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)].copy()


def noise_suppress_agc(x: np.ndarray, floor_db: float = -40.0, target_dbfs: float = -20.0) -> np.ndarray:
    """A WebRTC-like noise suppressor and AGC (see the module docstring); deterministic."""
    win, hop = 512, 256
    w = np.sqrt(np.hanning(win + 1)[:win])
    n = 1 + (len(x) + win) // hop
    padded = np.pad(x.astype(np.float64), (win, n * hop - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n] * w
    spec = np.fft.rfft(frames, axis=1)
    power = np.abs(spec) ** 2
    smooth = np.copy(power)
    for i in range(1, n):
        smooth[i] = 0.7 * smooth[i - 1] + 0.3 * power[i]
    span = 94  # 1.5 s of frames: minimum statistics
    noise = np.stack([smooth[max(0, i - span) : i + 1].min(axis=0) for i in range(n)]) * 3.0
    gain = np.maximum(1 - 2.0 * noise / np.maximum(smooth, 1e-20), 10 ** (floor_db / 20))
    quiet = smooth.sum(axis=1) < 4.0 * noise.sum(axis=1)  # no voice in the frame: gate it whole
    gain[quiet] = 10 ** (floor_db / 20)
    out = np.fft.irfft(spec * gain, win, axis=1) * w
    y = np.zeros(n * hop + win)
    for i in range(n):
        y[i * hop : i * hop + win] += out[i]
    y = y[win : win + len(x)]
    return _agc(y, target_dbfs).astype(np.float32)


def _agc(y: np.ndarray, target_dbfs: float) -> np.ndarray:
    """Slow gain towards ``target_dbfs`` measured on voiced 32 ms frames (> -40 dBFS); held in pauses; <= +24 dB."""
    frame = 512
    levels = 10 * np.log10(np.mean(y[: len(y) // frame * frame].reshape(-1, frame) ** 2, axis=1) + 1e-20)
    gain_db, gains = 0.0, []
    for level in levels:
        if level > -40:
            gain_db += 0.05 * (min(24.0, target_dbfs - level) - gain_db)
        gains.append(gain_db)
    g = np.repeat(10 ** (np.array(gains + [gain_db]) / 20), frame)[: len(y)]
    g = np.pad(g, (0, len(y) - len(g)), mode="edge")
    return np.clip(y * g, -1, 1)


SUFFIX = {"headset": ".wav", "laptop": ".webm", "phone": ".wav", "far": ".ogg", "browser": ".webm"}


def apply(x: np.ndarray, chain: str, seed: int) -> np.ndarray:
    """``x`` (clean 16 kHz speech with its pauses) through ``chain`` (one of :data:`CHAINS`).

    The file container of :data:`SUFFIX` adds the last codec (Opus for ``laptop`` and ``browser``
    when written by :func:`ml_service.samples.audio.write_audio`).
    """
    x = np.asarray(x, np.float32)
    if chain == "headset":
        return band(x, 60, 7900) + room_tone(len(x), -68, seed + 1)
    if chain == "phone":
        y = band(x + room_tone(len(x), -60, seed + 1), 300, 3400)
        return codec(_gain_to(y, -22), ["-c:a", "libgsm"], "gsm", rate=8000)
    if chain == "far":
        y = band(reverb(x, 0.6, -3.0, seed), 120, 6000) * np.float32(10 ** (-14 / 20))
        return y + room_tone(len(x), -50, seed + 1)
    y = band(reverb(x, 0.35, 6.0, seed), 150, 7000, peak_hz=3000, peak_db=5) + room_tone(len(x), -52, seed + 1)
    if chain == "laptop":
        return y
    if chain == "browser":
        return noise_suppress_agc(y)
    raise ValueError(f"unknown chain {chain!r}; known: {', '.join(CHAINS)}")


def read_audio(path: Path) -> np.ndarray:
    """Any file ffmpeg reads, as 16 kHz mono float32."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE), "-f", "f32le",
                          "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).copy()
