"""Short, deterministic sample recordings for demos and tests, made by ffmpeg offline.

:func:`make_demo_media` writes one folder per modality from ffmpeg's ``lavfi`` test sources
(no network, no fixtures in the repo)::

    webcam/webcam.mp4          640x480 @ 15 fps H.264 + 16 kHz mono AAC tone
    screencast/screencast.mp4  1280x720 @ 5 fps H.264, no audio
    audio/microphone.wav       16 kHz mono 16-bit PCM, a modulated tone with a digitally
                               silent gap over :func:`silent_gap` (40 %-60 % of the length)
    debug/tone.wav, clip.mp4   a small WAV and a 320x240 @ 10 fps mp4 with audio
    keystrokes/session.json    a keystroke log (handlers/keystrokes' format): steady typing
                               with one large paste half-way (made without ffmpeg)

:func:`make_video`, :func:`make_wav` and :func:`make_photo` make single files for tests.
Outputs are bit-exact (no version tags or metadata, fixed encoder threads), so the same
ffmpeg build gives the same bytes. ffmpeg comes from the Debian package ``ffmpeg``; without
it every function raises :class:`DemoMediaError` saying so.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "MODALITIES",
    "DemoMediaError",
    "make_demo_media",
    "make_keystroke_log",
    "make_photo",
    "make_video",
    "make_wav",
    "silent_gap",
]

MODALITIES = ("webcam", "screencast", "audio", "keystrokes", "debug")
_FFMPEG_TIMEOUT_S = 120
_BITEXACT = [
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-map_metadata",
    "-1",
]
_H264 = [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-crf",
    "28",
    "-pix_fmt",
    "yuv420p",
    "-threads",
    "2",
]


class DemoMediaError(RuntimeError):
    """ffmpeg is missing or failed to make a sample file."""


def make_demo_media(out_dir: Path, seconds: float = 8.0) -> dict[str, list[Path]]:
    """Write sample recordings for every modality under ``out_dir``; paths by modality."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, not {seconds}")
    dirs = {name: Path(out_dir) / name for name in MODALITIES}
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "webcam": [make_video(dirs["webcam"] / "webcam.mp4", seconds, (640, 480), 15, audio=True)],
        "screencast": [make_video(dirs["screencast"] / "screencast.mp4", seconds, (1280, 720), 5)],
        "audio": [make_wav(dirs["audio"] / "microphone.wav", seconds, gap=silent_gap(seconds))],
        "keystrokes": [make_keystroke_log(dirs["keystrokes"] / "session.json", max(60.0, seconds))],
        "debug": [
            make_wav(dirs["debug"] / "tone.wav", seconds),
            make_video(dirs["debug"] / "clip.mp4", seconds, (320, 240), 10, audio=True),
        ],
    }


def make_keystroke_log(path: Path, seconds: float, paste_chars: int = 600) -> Path:
    """A ``keystrokes/1`` log of ``seconds``: one typist's steady typing (keys held 60-120 ms,
    80-250 ms between presses, a pause after each word) with one ``paste`` of ``paste_chars``
    characters half-way. Deterministic (a fixed seed); standard library only, so the compose
    demo's submitter can make it in the debug image."""
    rng = random.Random(7)
    events: list[dict] = []
    t, half = 0.5, seconds / 2
    pasted = False
    while t < seconds - 1.0:
        if not pasted and t >= half:
            events.append({"t": round(t * 1000), "type": "paste", "chars": paste_chars})
            pasted, t = True, t + 2.0
        for _ in range(rng.randint(2, 8)):  # a word
            key = rng.randint(65, 90)
            down = t
            events += [{"t": round(down * 1000), "type": "down", "key": key},
                       {"t": round((down + rng.uniform(0.06, 0.12)) * 1000), "type": "up", "key": key}]
            t += rng.uniform(0.13, 0.25)
        events += [{"t": round(t * 1000), "type": "down", "key": 32},
                   {"t": round((t + 0.07) * 1000), "type": "up", "key": 32}]
        t += rng.uniform(0.25, 0.6)
    events.sort(key=lambda e: e["t"])
    doc = {"format": "keystrokes/1", "time_unit": "ms", "duration": round(seconds * 1000), "events": events}
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return path


def silent_gap(seconds: float) -> tuple[float, float]:
    """Where the demo microphone recording is silent: 40 %-60 % of its length."""
    return round(seconds * 0.4, 3), round(seconds * 0.6, 3)


def make_video(
    path: Path,
    seconds: float,
    size: tuple[int, int] = (640, 480),
    fps: int = 15,
    audio: bool = False,
    sample_rate: int = 16000,
) -> Path:
    """An H.264 mp4 of ffmpeg's ``testsrc2`` pattern, with an optional 440 Hz AAC track."""
    width, height = size
    args = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        tone = f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds}"
        args += ["-f", "lavfi", "-i", tone, "-c:a", "aac", "-b:a", "48k", "-ac", "1"]
    return _ffmpeg(path, [*args, *_H264])


def make_wav(
    path: Path,
    seconds: float,
    sample_rate: int = 16000,
    gap: tuple[float, float] | None = None,
) -> Path:
    """A mono 16-bit PCM WAV: a syllable-rate modulated 220 Hz tone plus faint noise.

    Over ``gap`` (start, end seconds) every sample is exactly zero, like a muted microphone.
    """
    expr = "(0.5*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))+0.02*(random(0)-0.5))"
    if gap is not None:
        expr += f"*not(between(t,{gap[0]},{gap[1]}))"
    source = f"aevalsrc='{expr}':sample_rate={sample_rate}:duration={seconds}"
    return _ffmpeg(path, ["-f", "lavfi", "-i", source, "-c:a", "pcm_s16le", "-ac", "1"])


def make_photo(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    """A single still image (format from the suffix, e.g. ``.jpg`` or ``.png``)."""
    width, height = size
    source = f"testsrc2=size={width}x{height}:rate=1"
    return _ffmpeg(path, ["-f", "lavfi", "-i", source, "-frames:v", "1", "-update", "1"])


def _ffmpeg(path: Path, args: list[str]) -> Path:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise DemoMediaError(
            "ffmpeg not found on PATH: install the Debian package 'ffmpeg' "
            "(apt-get install ffmpeg) to make demo media"
        )
    path = Path(path)
    cmd = [exe, "-nostdin", "-y", "-loglevel", "error", *args, *_BITEXACT, str(path.resolve())]
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=_FFMPEG_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DemoMediaError(f"ffmpeg could not make {path.name}: {exc}") from exc
    if done.returncode != 0:
        raise DemoMediaError(f"ffmpeg failed making {path.name}: {done.stderr.strip()}")
    return path
