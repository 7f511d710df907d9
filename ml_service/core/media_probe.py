"""What a media file is: size, checksum, container, duration and streams.

:func:`probe` asks ``ffprobe`` (Debian package ``ffmpeg``) and, when ffprobe is missing or
fails, falls back to the standard library's :mod:`wave` for WAV files. It never raises on
bad media and never guesses: a file nothing can read is reported as ``readable: False``
with a ``reason``. Every handler can use it to learn durations, frame rates and sample rates.

The dict it returns::

    size_bytes   int | None        None only when the file cannot be opened at all
    sha256       str | None        hex digest, streamed in 1 MiB chunks (None with checksum=False)
    readable     bool
    probed_with  "ffprobe" | "wave" | None
    reason       str               only when not readable (why each prober failed)
    format       str               container, as ffprobe names it ("wav", "mov,mp4,...")
    duration_s   float | None      container duration, else the longest stream
    streams      list of dicts     index, type, codec, duration_s, and
                                   video: width, height, fps, frames (when the container says)
                                   audio: sample_rate, channels, samples (when cheaply known)
    still_image  True              only for a photo (no duration, fps or frame rate then)
    warning      str               only when something is off but the file is readable
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import subprocess
import wave
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = ["CHUNK_BYTES", "probe", "sha256_file"]

CHUNK_BYTES = 1 << 20
_PCM_CODECS = {1: "pcm_u8", 2: "pcm_s16le", 3: "pcm_s24le", 4: "pcm_s32le"}
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")
_REASON_MAX = 300


class _ProbeFailed(Exception):
    """One prober could not read the file; the message says why."""


def probe(path: Path, timeout_s: float = 30, checksum: bool = True) -> dict[str, Any]:
    """Describe the media file at ``path`` (see the module docstring for the shape).

    ``checksum=False`` skips reading the whole file for ``sha256`` (then None)."""
    path = Path(path)
    if not path.is_file():
        reason = "not a regular file" if path.exists() else "file not found"
        return _unreadable(None, None, reason)
    try:
        size, digest = path.stat().st_size, (sha256_file(path) if checksum else None)
    except OSError as exc:
        return _unreadable(None, None, f"cannot read: {exc.strerror or exc}")
    reasons = []
    probers: tuple[tuple[str, Callable[[Path, float], dict[str, Any]]], ...] = (
        ("ffprobe", _probe_ffprobe),
        ("wave", _probe_wave),
    )
    for name, prober in probers:
        try:
            info = prober(path, timeout_s)
        except _ProbeFailed as exc:
            reasons.append(f"{name}: {exc}")
            continue
        return {"size_bytes": size, "sha256": digest, "readable": True, "probed_with": name, **info}
    return _unreadable(size, digest, "; ".join(reasons))


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in :data:`CHUNK_BYTES` chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _unreadable(size: int | None, digest: str | None, reason: str) -> dict[str, Any]:
    return {
        "size_bytes": size,
        "sha256": digest,
        "readable": False,
        "probed_with": None,
        "reason": reason[:_REASON_MAX],
    }


# --- ffprobe -------------------------------------------------------------------------------


def _probe_ffprobe(path: Path, timeout_s: float) -> dict[str, Any]:
    exe = shutil.which("ffprobe")
    if exe is None:
        raise _ProbeFailed("not installed (Debian package ffmpeg)")
    target = f"file:{path.resolve()}"  # absolute, and never read as an option or a protocol
    cmd = [exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", target]
    try:
        done = subprocess.run(
            cmd, capture_output=True, timeout=timeout_s, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise _ProbeFailed(f"timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise _ProbeFailed(f"could not run: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise _ProbeFailed(_clean_stderr(stderr, path) or f"exit status {done.returncode}")
    try:
        data = json.loads(done.stdout)
    except ValueError as exc:
        raise _ProbeFailed("output is not JSON") from exc
    return _describe(data)


def _clean_stderr(text: str, path: Path) -> str:
    """ffprobe's complaint, without log prefixes or our temp paths."""
    lines = []
    for line in text.splitlines():
        line = _LOG_PREFIX.sub("", line.strip())
        line = line.replace(f"file:{path.resolve()}", path.name).replace(str(path), path.name)
        if line and line not in lines:
            lines.append(line)
    return "; ".join(lines)


def _describe(data: dict[str, Any]) -> dict[str, Any]:
    streams = [_stream(s) for s in data.get("streams") or []]
    if not any(s["type"] in ("audio", "video") for s in streams):
        raise _ProbeFailed("no audio or video streams")
    fmt = data.get("format") or {}
    name = fmt.get("format_name") or ""
    if name == "image2" or name.endswith("_pipe"):
        return _still_image(name, streams)
    duration = _number(fmt.get("duration"))
    if duration is None:
        duration = max(
            (s["duration_s"] for s in streams if s["duration_s"] is not None), default=None
        )
    return {"format": name or None, "duration_s": duration, "streams": streams}


def _still_image(name: str, streams: list[dict[str, Any]]) -> dict[str, Any]:
    """A photo has no timeline: drop the 25 fps / 0.04 s that image demuxers assume."""
    for stream in streams:
        stream.update(duration_s=None)
        if stream["type"] == "video":
            stream.update(fps=None, frames=1)
    return {"format": name, "duration_s": None, "still_image": True, "streams": streams}


def _stream(raw: dict[str, Any]) -> dict[str, Any]:
    kind = raw.get("codec_type") or "unknown"
    info: dict[str, Any] = {
        "index": raw.get("index"),
        "type": kind,
        "codec": raw.get("codec_name"),
        "duration_s": _number(raw.get("duration")),
    }
    if kind == "video":
        fps = _fraction(raw.get("avg_frame_rate"))
        info.update(
            width=raw.get("width"),
            height=raw.get("height"),
            fps=round(float(fps), 3) if fps else None,
            frames=_integer(raw.get("nb_frames")),
        )
    elif kind == "audio":
        rate = _integer(raw.get("sample_rate"))
        samples = None
        if rate and _fraction(raw.get("time_base")) == Fraction(1, rate):
            samples = _integer(raw.get("duration_ts"))
        info.update(sample_rate=rate, channels=raw.get("channels"), samples=samples)
    return info


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if math.isfinite(number) and number >= 0 else None


def _integer(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _fraction(value: Any) -> Fraction | None:
    """``"15/1"`` -> 15; ``"0/0"``, ``"N/A"`` or nonsense -> None."""
    try:
        fraction = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return fraction if fraction > 0 else None


# --- wave fallback -------------------------------------------------------------------------


def _probe_wave(path: Path, timeout_s: float) -> dict[str, Any]:
    """PCM WAV via the standard library; counts the samples actually present."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            declared = wav.getnframes()
            present = _count_frames(wav, channels * width)
    except (wave.Error, EOFError, OSError, ValueError) as exc:
        raise _ProbeFailed(str(exc) or type(exc).__name__) from exc
    if rate <= 0 or channels <= 0:
        raise _ProbeFailed(f"invalid header: {rate} Hz, {channels} channel(s)")
    duration = round(present / rate, 6)
    stream = {
        "index": 0,
        "type": "audio",
        "codec": _PCM_CODECS.get(width, f"pcm_{8 * width}bit"),
        "duration_s": duration,
        "sample_rate": rate,
        "channels": channels,
        "samples": present,
    }
    info: dict[str, Any] = {"format": "wav", "duration_s": duration, "streams": [stream]}
    if present < declared:
        info["warning"] = f"truncated: header declares {declared} samples, {present} present"
    return info


def _count_frames(wav: wave.Wave_read, frame_bytes: int) -> int:
    frames, block = 0, max(1, CHUNK_BYTES // max(1, frame_bytes))
    while chunk := wav.readframes(block):
        frames += len(chunk) // max(1, frame_bytes)
    return frames
