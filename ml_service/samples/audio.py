"""Labelled audio: espeak-ng speech in distinct voices, room tone, noise, music, a muted mic.

Everything is synthesised here, deterministically from the seed: speech by Debian's
``espeak-ng`` (candidate ``en-us+m3 -p 35``, helper ``en-us+f2 -p 60``, stranger
``en+f5 -p 90``), room tone, broadband noise bursts and music-like chords by numpy, and the
files written by ``ffmpeg`` as WAV, Ogg/Opus, WebM/Opus or MP4/AAC (Debian packages
``espeak-ng`` and ``ffmpeg``; ``handlers/audio/install.sh`` installs both).

Each clip is a list of placed items; its truth follows from them by the handler's documented
rules (README of ``handlers/audio``): speech pieces closer than 1 s are one ``speech`` event;
the non-candidate voice's speech is ``voice_mismatch``; speech of two voices within 10 s of each
other is ``multiple_speakers``; turns within 5 s of each other with two voice changes are
``conversation_hints``; every noise or music item is ``background_noise``; zeroed audio is
``mic_muted_or_dead``. espeak voices share one synthesizer, so these clips test the mechanics
of the voice checks, not how well real voices are told apart.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

import numpy as np

from ml_service.samples.truth import Sample

__all__ = ["MODALITY", "VOICES", "Clip", "enrolment", "generate", "make_long", "write_audio"]

MODALITY = "audio"
RATE = 16000
VOICES = {
    "candidate": ("-v", "en-us+m3", "-p", "35"),
    "helper": ("-v", "en-us+f2", "-p", "60"),
    "stranger": ("-v", "en+f5", "-p", "90"),
}
TEXTS = [
    "Question four asks for the derivative of the logarithm, so I will write one over x.",
    "The second part needs the chain rule, and then I simplify the fraction.",
    "I think the answer to number seven is the third option, the one with seventeen.",
    "Let me read the instructions again before I start the essay question.",
    "Can you tell me what you wrote for the last question on the sheet?",
    "It was the integral from zero to one, the answer is one half.",
    "Thanks, and what about the question on thermodynamics?",
    "The entropy goes up, so the process cannot be reversed.",
    "Okay, I will write that down now and check it later.",
    "Remember that the proctor said we have twenty minutes left.",
]
ENROL_TEXT = "My name is Alex, I am the candidate, and this is my voice sample for the exam today."
_CHORDS = [(220, 277, 330), (196, 247, 294), (175, 220, 262), (247, 311, 370)]


@lru_cache(maxsize=64)
def _say(voice: str, text: str) -> np.ndarray:
    """One utterance, 16 kHz float32, silence trimmed, at -20 dBFS RMS."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "u.wav"
        subprocess.run(["espeak-ng", *VOICES[voice], "-s", "165", "-w", str(wav), text], check=True)
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-ac", "1", "-ar", str(RATE),
                              "-f", "f32le", "pipe:1"], check=True, capture_output=True).stdout
    x = np.frombuffer(raw, np.float32)
    loud = np.flatnonzero(np.abs(x) > 0.01 * np.abs(x).max())
    x = x[loud[0] : loud[-1] + 1]
    return x * np.float32(0.1 / np.sqrt(np.mean(x**2)))


def _colored(rng: np.random.Generator, n: int, alpha: float, dbfs: float) -> np.ndarray:
    """Noise with a 1/f^alpha power spectrum (0 white, 1 pink, 2 brown) at ``dbfs`` RMS.

    Like a real microphone chain it carries nothing under 20 Hz, and the slope flattens
    below 60 Hz (else brown noise would be almost all sub-audible rumble).
    """
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[f < 20] = 0
    x = np.fft.irfft(spectrum / np.maximum(f, 60.0) ** (alpha / 2), n)
    return (x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))).astype(np.float32)


def _music(n: int, dbfs: float) -> np.ndarray:
    """Chords of harmonic tones changing every half second: music-like, tonal noise."""
    t = np.arange(n) / RATE
    x = np.zeros(n)
    for k, i in enumerate(range(0, n, RATE // 2)):
        seg = t[i : i + RATE // 2]
        for f0 in _CHORDS[k % len(_CHORDS)]:
            for h, a in ((1, 1.0), (2, 0.5), (3, 0.25)):
                x[i : i + RATE // 2] += a * np.sin(2 * np.pi * f0 * h * seg)
    return (x * (10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))).astype(np.float32)


class Clip:
    """A timeline: room tone, then placed items; it remembers what went where."""

    def __init__(self, seconds: float, rng: np.random.Generator, tone_db: float = -55.0, tone_alpha: float = 1.0):
        self.rng = rng
        self.x = _colored(rng, int(seconds * RATE), tone_alpha, tone_db)
        self.items: list[tuple[str, float, float, str]] = []  # kind, start, end, voice

    def say(self, at: float, voice: str, text: str, gain_db: float = 0.0) -> float:
        u = _say(voice, text) * np.float32(10 ** (gain_db / 20))
        i = int(at * RATE)
        self.x[i : i + len(u)] += u
        self.items.append(("speech", at, at + len(u) / RATE, voice))
        return at + len(u) / RATE

    def noise(self, at: float, seconds: float, kind: str, dbfs: float) -> None:
        n = int(seconds * RATE)
        burst = _music(n, dbfs) if kind == "music" else _colored(self.rng, n, {"white": 0, "pink": 1}[kind], dbfs)
        ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.02 * RATE))
        self.x[int(at * RATE) : int(at * RATE) + n] += burst * ramp.astype(np.float32)
        self.items.append(("noise", at, at + seconds, kind))

    def mute(self, at: float, seconds: float, level_db: float | None = None) -> None:
        n = int(seconds * RATE)
        floor = np.zeros(n, np.float32) if level_db is None else _colored(self.rng, n, 0, level_db)
        self.x[int(at * RATE) : int(at * RATE) + n] = floor
        self.items.append(("mute", at, at + seconds, ""))

    def _muted(self, at: float) -> bool:
        """A dead microphone records no clicks: True inside a muted stretch (plus the click)."""
        return any(kind == "mute" and s - 0.02 <= at <= e for kind, s, e, _ in self.items)

    def clicks(self, count: int, dbfs: float = -32.0) -> None:
        """Keyboard-like 15 ms clicks, spread out: impulses, not background noise."""
        for at in np.sort(self.rng.uniform(1, len(self.x) / RATE - 1, count)):
            burst = _colored(self.rng, 240, 0, dbfs)  # drawn even when skipped: same stream
            if not self._muted(at):
                self.x[int(at * RATE) : int(at * RATE) + 240] += burst

    def typing(self, at: float, seconds: float, per_s: float = 7.0, dbfs: float = -30.0) -> None:
        """A burst of typing: clicks at ``per_s`` a second for ``seconds``: not background noise."""
        for t in at + np.cumsum(self.rng.exponential(1 / per_s, int(seconds * per_s))):
            if t < len(self.x) / RATE - 0.1:
                self.x[int(t * RATE) : int(t * RATE) + 240] += _colored(self.rng, 240, 0, dbfs)

    def truth(self, candidate: str) -> list[dict]:
        utts = sorted((s, e, v) for kind, s, e, v in self.items if kind == "speech")
        out = [_ev("speech", s, e) for s, e in _merge([(s, e) for s, e, _ in utts], 1.0)]
        out += [_ev("voice_mismatch", s, e) for s, e in _merge([(s, e) for s, e, v in utts if v != candidate], 1.0)]
        for group in _groups(utts, 10.0):
            if len({v for _, _, v in group}) > 1:
                out.append(_ev("multiple_speakers", group[0][0], max(e for _, e, _ in group)))
        for group in _groups(utts, 5.0):
            voices = [v for _, _, v in group]
            if sum(a != b for a, b in zip(voices, voices[1:])) >= 2:
                out.append(_ev("conversation_hints", group[0][0], max(e for _, e, _ in group)))
        out += [_ev("background_noise", s, e) for kind, s, e, _ in self.items if kind == "noise"]
        out += [_ev("mic_muted_or_dead", s, e) for kind, s, e, _ in self.items if kind == "mute"]
        return sorted(out, key=lambda e: (e["start_s"], e["type"]))


def _ev(kind: str, start: float, end: float) -> dict:
    return {"type": kind, "start_s": round(start, 3), "end_s": round(end, 3)}


def _merge(spans: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _groups(utts: list[tuple[float, float, str]], gap: float) -> list[list[tuple[float, float, str]]]:
    groups: list[list[tuple[float, float, str]]] = []
    for u in utts:
        if groups and u[0] - max(e for _, e, _ in groups[-1]) <= gap:
            groups[-1].append(u)
        else:
            groups.append([u])
    return groups


def write_audio(x: np.ndarray, path: Path) -> Path:
    """Encode float samples to ``path``; the codec follows the suffix (wav/ogg/webm/mp4)."""
    codec = {".wav": ["-c:a", "pcm_s16le"], ".ogg": ["-c:a", "libopus", "-b:a", "48k"],
             ".webm": ["-c:a", "libopus", "-b:a", "48k"], ".mp4": ["-c:a", "aac", "-b:a", "96k"]}[path.suffix]
    pcm = np.clip(x, -1, 1).astype(np.float32).tobytes()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0",
                    *codec, str(path)], input=pcm, check=True)
    return path


def _scenarios(rng: np.random.Generator) -> list[tuple[str, float, str, callable, str, bool]]:
    """(name, seconds, suffix, script, candidate voice, with enrolment); texts vary with the seed."""
    texts = [TEXTS[i] for i in rng.permutation(len(TEXTS))]
    jitter = lambda: float(rng.uniform(0, 2))  # noqa: E731

    def reads_aloud(c):
        for k, at in enumerate((6, 24, 44)):
            c.say(at + jitter(), "candidate", texts[k])

    def second_voice(c):
        c.say(5 + jitter(), "candidate", texts[0])
        c.say(38 + jitter(), "stranger", texts[1])

    def dialogue(c):
        c.say(3, "candidate", texts[0])
        t = c.say(26 + jitter(), "helper", texts[4]) + 1.8
        t = c.say(t, "candidate", texts[5]) + 1.8
        t = c.say(t, "helper", texts[6]) + 1.8
        c.say(t, "candidate", texts[7])

    def two_voices(c):
        t = c.say(5 + jitter(), "candidate", texts[2]) + 3.0
        c.say(t, "helper", texts[3])

    def impostor(c):
        for k, at in enumerate((4, 18, 32)):
            c.say(at + jitter(), "stranger", texts[k])

    def muted(c):
        c.mute(20 + jitter(), 15)

    def dead_mic(c):
        c.mute(12 + jitter(), 20, level_db=-85.0)

    def noise_bursts(c):
        c.noise(10 + jitter(), 4, "white", -30)
        c.noise(32 + jitter(), 6, "pink", -28)

    def music(c):
        c.noise(15 + jitter(), 15, "music", -30)

    def soft_speech(c):
        for k, at in enumerate((5, 25)):
            c.say(at + jitter(), "candidate", texts[k], gain_db=-16)

    def speech_in_fan_noise(c):
        c.x += _colored(c.rng, len(c.x), 1.0, -46)
        for k, at in enumerate((4, 22, 38)):
            c.say(at + jitter(), "candidate", texts[k + 3])

    def mixed(c):
        c.say(4, "candidate", texts[8])
        c.noise(22, 5, "pink", -32)
        c.mute(36, 8)
        t = c.say(55, "helper", texts[4]) + 1.8
        t = c.say(t, "candidate", texts[5]) + 1.8
        c.say(t, "helper", texts[6])
        c.noise(100, 10, "music", -33)

    return [
        ("audio-reads-aloud", 60, ".wav", reads_aloud, "candidate", True),
        ("audio-second-voice", 60, ".webm", second_voice, "candidate", True),
        ("audio-dialogue", 75, ".ogg", dialogue, "candidate", False),
        ("audio-two-voices", 45, ".mp4", two_voices, "candidate", True),
        ("audio-impostor", 50, ".wav", impostor, "candidate", True),
        ("audio-mic-muted", 60, ".webm", muted, "candidate", False),
        ("audio-dead-mic", 45, ".wav", dead_mic, "candidate", False),
        ("audio-noise-bursts", 60, ".wav", noise_bursts, "candidate", False),
        ("audio-music", 50, ".ogg", music, "candidate", False),
        ("audio-soft-speech", 45, ".webm", soft_speech, "candidate", True),
        ("audio-speech-in-fan-noise", 55, ".mp4", speech_in_fan_noise, "candidate", False),
        ("audio-mixed", 120, ".webm", mixed, "candidate", True),
    ]


_CHECKS = ["speech", "multiple_speakers", "voice_mismatch", "background_noise", "mic_muted_or_dead",
           "conversation_hints"]


def enrolment(out_dir: Path) -> Path:
    """The candidate's enrolment clip (different words from any recording)."""
    c = Clip(12, np.random.default_rng(99), tone_db=-60)
    c.say(1.0, "candidate", ENROL_TEXT)
    return write_audio(c.x, Path(out_dir) / "audio-enrol-candidate.wav")


def generate(out_dir: Path, seed: int = 0, clean_clips: int = 30,
             only: Collection[str] | None = None) -> list[Sample]:
    """Twelve labelled clips (45-120 s) and ``clean_clips`` clean 120 s clips (one clean hour).

    ``only``: write just the clips of these names. The others are still built (not encoded),
    because every clip draws from one random stream, so a chosen clip is the same either way.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    enrol = enrolment(out_dir)
    samples = []
    for name, seconds, suffix, script, candidate, with_enrol in _scenarios(rng):
        clip = Clip(seconds, rng, tone_db=float(rng.uniform(-60, -52)))
        script(clip)
        clip.clicks(int(rng.integers(0, 6)))
        if only is not None and name not in only:
            continue
        path = write_audio(clip.x, out_dir / f"{name}{suffix}")
        samples.append(Sample(name=name, modality=MODALITY, recordings=[path], duration_s=seconds,
                              truth=clip.truth(candidate), reference_voice=enrol if with_enrol else None,
                              checks=list(_CHECKS)))
    cleans = [k for k in range(clean_clips) if only is None or f"audio-clean-{k:02d}" in only]
    for k in range(max(cleans, default=-1) + 1):
        sample = _clean(out_dir, k, rng)
        if k in cleans:
            samples.append(sample)
    return samples


def _clean(out_dir: Path, k: int, rng: np.random.Generator) -> Sample:
    """A quiet exam room: room tone of varying colour and level, typing clicks, now and then a hum."""
    clip = Clip(120, rng, tone_db=float(rng.uniform(-62, -48)), tone_alpha=float(rng.choice([0.0, 1.0, 2.0])))
    clip.clicks(int(rng.integers(0, 40)))
    for _ in range(int(rng.integers(0, 4))):
        clip.typing(float(rng.uniform(2, 110)), float(rng.uniform(2, 8)))
    if k % 3 == 0:
        t = np.arange(len(clip.x)) / RATE
        clip.x += (10 ** (-55 / 20) * np.sqrt(2) * np.sin(2 * np.pi * 50 * t)).astype(np.float32)
    suffix = (".wav", ".webm", ".ogg")[k % 3]
    name = f"audio-clean-{k:02d}"
    path = write_audio(clip.x, out_dir / f"{name}{suffix}")
    return Sample(name=name, modality=MODALITY, recordings=[path], duration_s=120, truth=[], clean=True,
                  checks=list(_CHECKS))


def make_long(out_dir: Path, minutes: float, seed: int = 0) -> Path:
    """A ``minutes``-long WebM/Opus exam recording: one 2-minute mixed segment, looped by stream copy.

    The segment is encoded once; ffmpeg's concat demuxer then repeats it without re-encoding,
    so an hour is written in seconds. Speech fills about a quarter of it (two voices: reading
    aloud and a short dialogue), far more than a real exam, so the embedding cost is not flattered.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    clip = Clip(120, rng, tone_db=-55)
    t = clip.say(5, "candidate", TEXTS[0]) + 1.0
    t = clip.say(t, "candidate", TEXTS[1]) + 1.0
    clip.say(t, "candidate", TEXTS[3])
    clip.noise(30, 4, "pink", -30)
    t = clip.say(45, "helper", TEXTS[4]) + 1.5
    t = clip.say(t, "candidate", TEXTS[5]) + 1.5
    t = clip.say(t, "helper", TEXTS[6]) + 1.5
    clip.say(t, "candidate", TEXTS[7])
    clip.noise(84, 8, "music", -32)
    clip.mute(100, 8)
    clip.clicks(20)
    segment = write_audio(clip.x, out_dir / f"audio-long-segment-{seed}.webm")
    repeats = max(1, int(np.ceil(minutes / 2.0)))
    listing = out_dir / f"audio-long-{seed}.txt"
    listing.write_text("".join(f"file '{segment.name}'\n" for _ in range(repeats)))
    out = out_dir / f"audio-long-{minutes:g}min-{seed}.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-t", f"{minutes * 60:.3f}", "-c", "copy", str(out)], check=True)
    return out
