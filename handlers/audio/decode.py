"""Decoding any recording's audio track to 16 kHz mono float32, through an ffmpeg pipe.

:func:`decode` runs ``ffmpeg`` (Debian package ``ffmpeg``) on WAV, Ogg/Opus, WebM, MP4 and
anything else ffmpeg reads, takes the first audio stream, and reads the raw samples straight
into one preallocated array (sized from ``ffprobe``'s duration), so a one-hour file costs
about 230 MB and no copy. A file with no audio stream, or that yields no samples, raises
:class:`Unreadable` with ffmpeg's own words.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

__all__ = ["SAMPLE_RATE", "Unreadable", "decode"]

SAMPLE_RATE = 16000
_BYTES = 4  # float32
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")


class Unreadable(Exception):
    """The file has no decodable audio; the message says why (in ffmpeg's words)."""


def decode(path: Path, timeout_s: float = 600.0) -> np.ndarray:
    """The first audio stream of ``path`` as 16 kHz mono float32 samples in [-1, 1]."""
    path = Path(path)
    if not path.is_file():
        raise Unreadable(f"{path.name}: file not found")
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise Unreadable("ffmpeg is not installed (Debian package ffmpeg)")
    target = f"file:{path.resolve()}"  # never read as an option or a protocol
    cmd = [exe, "-nostdin", "-v", "error", "-i", target, "-map", "0:a:0", "-vn", "-sn", "-dn",
           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
    buffer = np.empty(_expected_samples(path), dtype=np.float32)
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        try:
            buffer, filled = _read_all(proc.stdout, buffer)
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            raise Unreadable(f"{path.name}: ffmpeg did not finish in {timeout_s:g} s") from exc
    if proc.returncode != 0 or filled == 0:
        reason = _clean(stderr, path) or f"ffmpeg exit status {proc.returncode}, no samples"
        raise Unreadable(reason if path.name in reason else f"{path.name}: {reason}")
    return buffer[: filled // _BYTES]


def _read_all(pipe, buffer: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill ``buffer`` from ``pipe``, doubling it if the probe's duration was short."""
    view, filled = memoryview(buffer).cast("B"), 0
    while True:
        if filled == len(view):
            buffer = np.concatenate([buffer, np.empty(max(len(buffer), SAMPLE_RATE), np.float32)])
            view = memoryview(buffer).cast("B")
        got = pipe.readinto(view[filled:])
        if not got:
            return buffer, filled - filled % _BYTES
        filled += got


def _expected_samples(path: Path) -> int:
    """Samples that ffprobe's duration promises (+1 s); 60 s worth when it cannot tell."""
    exe = shutil.which("ffprobe")
    fallback = 60 * SAMPLE_RATE
    if exe is None:
        return fallback
    cmd = [exe, "-v", "error", "-print_format", "json", "-show_entries", "format=duration",
           f"file:{path.resolve()}"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL)
        seconds = float(json.loads(done.stdout)["format"]["duration"])
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return fallback
    if not 0 < seconds < 48 * 3600:
        return fallback
    return int((seconds + 1.0) * SAMPLE_RATE)


def _clean(text: str, path: Path) -> str:
    """ffmpeg's complaint without log prefixes or our absolute paths, first lines only."""
    lines: list[str] = []
    for line in text.splitlines():
        line = _LOG_PREFIX.sub("", line.strip())
        line = line.replace(f"file:{path.resolve()}", path.name).replace(str(path), path.name)
        if line and line not in lines:
            lines.append(line)
    return "; ".join(lines[:3])[:300]
