"""What the worker checks on downloaded media before a handler sees it.

- A recording longer than ``ML_MEDIA_MAX_DURATION_S`` (as its container says) is refused with a
  :class:`MediaError` (error 3) that says so, instead of running a handler out of memory.
  A container that states no duration cannot be checked here; the handler's time and memory
  caps still hold.
- A reference photo over :data:`PHOTO_MAX_PIXELS` (read from the image's own header: a 400 KB
  PNG can declare 20000x20000 pixels) or that is no image, and a reference voice that has no
  audio or is over the duration limit, are not given to the handler; the result says why
  (:func:`with_notes`), and the session is analysed without them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ml_service.core.bounded import excerpt
from ml_service.core.errors import MediaError
from ml_service.core.media_probe import probe

__all__ = ["PHOTO_MAX_PIXELS", "MediaLimits", "check_media", "image_size", "wav_duration", "with_notes"]

PHOTO_MAX_PIXELS = 100_000_000  # a 100 MP photo decodes to 300 MB; 20000x20000 would be 1.2 GB

Probe = Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class MediaLimits:
    max_duration_s: float = 14400.0
    photo_max_pixels: int = PHOTO_MAX_PIXELS


def _quick_probe(path: Path) -> dict[str, Any]:
    """A PCM WAV's duration from its header and size (no process to start); else ffprobe's."""
    duration = wav_duration(path)
    if duration is not None:
        return {"readable": True, "duration_s": duration, "streams": [{"type": "audio"}]}
    return probe(path, checksum=False)


def wav_duration(path: Path) -> float | None:
    """Seconds of samples a RIFF/WAVE file holds (what is present, whatever its header claims),
    or None when it is not a plain WAV whose format chunk comes before its data."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = None
        for _ in range(64):
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt " and size >= 16:
                byte_rate = struct.unpack("<I", fh.read(16)[8:12])[0]
                fh.seek(size - 16 + size % 2, 1)
            elif kind == b"data":
                present = min(size, Path(path).stat().st_size - fh.tell())
                return round(present / byte_rate, 6) if byte_rate else None
            else:
                fh.seek(size + size % 2, 1)
    return None


def check_media(submission: dict[str, Any], limits: MediaLimits, probe_file: Probe = _quick_probe) -> list[str]:
    """Refuse over-long recordings; drop unusable references from ``submission``; return notes."""
    for item in submission.get("recordings") or []:
        duration = probe_file(Path(item["path"])).get("duration_s")
        if duration is not None and duration > limits.max_duration_s:
            raise MediaError(f"recording {excerpt(item['name'])} is {duration:.0f} s long, longer than the "
                             f"configured maximum of {limits.max_duration_s:.0f} s (ML_MEDIA_MAX_DURATION_S)")
    notes = []
    for role, problem in (("reference_photo", _photo_problem), ("reference_voice", _voice_problem)):
        item = submission.get(role)
        reason = problem(Path(item["path"]), limits, probe_file) if item else None
        if reason:
            submission[role] = None
            notes.append(f"{role.replace('_', ' ')} {excerpt(item['name'])} not used: {reason}")
    return notes


def with_notes(result: dict[str, Any], msg: str, notes: list[str]) -> tuple[dict[str, Any], str]:
    """The result with ``notes`` added to ``media.notes`` and to the message."""
    if not notes:
        return result, msg
    media = dict(result.get("media") or {})
    media["notes"] = [*(media.get("notes") or []), *notes]
    return {**result, "media": media}, "; ".join([msg, *notes] if msg else notes)


def _photo_problem(path: Path, limits: MediaLimits, probe_file: Probe) -> str | None:
    size = image_size(path)
    if size is None:
        facts = probe_file(path)
        video = [s for s in facts.get("streams") or [] if s["type"] == "video"]
        if not facts["readable"] or not video or not video[0].get("width") or not video[0].get("height"):
            return "not an image whose size can be read"
        size = (video[0]["width"], video[0]["height"])
    if size[0] * size[1] > limits.photo_max_pixels:
        return f"{size[0]}x{size[1]} pixels, over the {limits.photo_max_pixels}-pixel limit"
    return None


def _voice_problem(path: Path, limits: MediaLimits, probe_file: Probe) -> str | None:
    facts = probe_file(path)
    if not facts["readable"] or not any(s["type"] == "audio" for s in facts.get("streams") or []):
        return "no audio in it"
    duration = facts.get("duration_s")
    if duration is not None and duration > limits.max_duration_s:
        return f"{duration:.0f} s long, longer than the configured maximum of {limits.max_duration_s:.0f} s"
    return None


def image_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF, BMP or JPEG header (None if none of those)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", head[6:10])
        if head[:2] == b"BM" and len(head) >= 26:
            width, height = struct.unpack("<ii", head[18:26])
            return abs(width), abs(height)
        if head[:2] == b"\xff\xd8":
            fh.seek(2)
            return _jpeg_size(fh)
    return None


def _jpeg_size(fh: Any) -> tuple[int, int] | None:
    """Walk the JPEG markers to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC)."""
    for _ in range(1000):
        marker = fh.read(2)
        while marker[:1] == b"\xff" and marker[1:2] == b"\xff":  # fill bytes
            marker = marker[1:] + fh.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
            frame = fh.read(5)
            return (struct.unpack(">H", frame[3:5])[0], struct.unpack(">H", frame[1:3])[0]) if len(frame) == 5 else None
        fh.seek(length - 2, 1)
    return None
