"""Evidence thumbnails: what the recording shows at each violation's start, inlined.

For a recording with a video stream, :func:`frame_data_uri` asks ffmpeg for the frame at the
violation's start, scaled to :data:`THUMB_WIDTH` px, as a base64 ``data:image/jpeg`` URI. When the
violation's ``details.evidence`` names a moment and the boxes seen then (``{"t": s, "boxes":
[{"box": [x0, y0, x1, y1], "label": "other face"}]}``, in video pixels), that frame is shown with
every box drawn: what was counted, so a phantom is visible as such. A detected object's
``details.frame_s`` and ``details.box`` are shown the same way. For
audio, :func:`waveform_svg` draws a small inline SVG of the samples from
:data:`WAVE_BEFORE_S` before the start to :data:`WAVE_AFTER_S` after it, with the violation
shaded. Nothing here raises for bad media: a thumbnail that cannot be made is ``None``.
ffmpeg comes from the Debian package ``ffmpeg``.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_service.core.media_probe import probe

__all__ = [
    "BOX_COLOURS",
    "MAX_THUMBS",
    "THUMB_WIDTH",
    "WAVE_AFTER_S",
    "WAVE_BEFORE_S",
    "Progress",
    "evidence_for",
    "frame_data_uri",
    "waveform_svg",
]

THUMB_WIDTH = 240
WAVE_HEIGHT = 64
WAVE_BEFORE_S, WAVE_AFTER_S = 2.0, 4.0
WAVE_RATE = 8000
MAX_THUMBS = 100  # per modality: a report stays a few MB at most
_TIMEOUT_S = 60

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


def evidence_for(result: Mapping[str, Any], media: Path, progress: Progress | None = None) -> dict[int, str]:
    """HTML snippets (``<img>`` or ``<svg>``) by violation index, for the first :data:`MAX_THUMBS`."""
    violations = list(result.get("violations") or [])[:MAX_THUMBS]
    facts = probe(media) if violations else {"readable": False}
    if not facts["readable"] or shutil.which("ffmpeg") is None:
        return {}
    kinds = {s.get("type") for s in facts.get("streams") or []}
    duration = facts.get("duration_s")
    items: Iterable[tuple[int, Any]] = enumerate(violations)
    if progress is not None:
        items = progress(items, len(violations))
    return dict(_snippets(items, media, kinds, duration))


def _snippets(items: Iterable[tuple[int, Any]], media: Path, kinds: set[Any],
              duration: float | None) -> Iterator[tuple[int, str]]:
    for index, violation in items:
        start = float(violation["start_s"])
        evidence = (violation.get("details") or {}).get("evidence") or {}
        if "video" in kinds:
            at, boxes = _evidence_frame(violation, evidence, start)
            uri = frame_data_uri(media, _clamp(at, duration), boxes)
            snippet = None if uri is None else (
                f'<img class="thumb" alt="frame at {at:.1f} s" width="{THUMB_WIDTH}" src="{uri}">')
        elif "audio" in kinds:
            snippet = waveform_svg(media, start, float(violation["end_s"]))
        else:
            snippet = None
        if snippet is not None:
            yield index, snippet


def _clamp(t: float, duration: float | None) -> float:
    """A seek time inside the recording (the last frame for a start at or past its end)."""
    if duration is not None and t > duration - 0.1:
        t = duration - 0.1
    return max(0.0, t)


BOX_COLOURS = {"face": "0x3cb44b", "other face": "0xe6194b", "not matching": "0xf58231", "object": "0xff0000"}


def _evidence_frame(violation: Mapping[str, Any], evidence: Mapping[str, Any],
                    start: float) -> tuple[float, list[dict[str, Any]]]:
    """The moment and boxes to show: ``details.evidence``, else a detected object's
    ``details.frame_s`` and ``details.box`` (x0, y0, x1, y1 in frame pixels), else the start."""
    details = violation.get("details") or {}
    box, at = details.get("box"), details.get("frame_s")
    try:
        if evidence:
            return float(evidence.get("t", start)), list(evidence.get("boxes") or [])
        if box is not None and at is not None and len(box) == 4:
            return float(at), [{"box": [float(v) for v in box], "label": "object"}]
    except (TypeError, ValueError):
        pass
    return start, []


def frame_data_uri(media: Path, t: float, boxes: list[dict[str, Any]] | None = None) -> str | None:
    """The frame at ``t`` seconds, :data:`THUMB_WIDTH` px wide, as a JPEG ``data:`` URI, with
    ``boxes`` (video pixels; colour by ``label``: :data:`BOX_COLOURS`) drawn on it."""
    draw = "".join(_drawbox(b) for b in boxes or [])
    data = _ffmpeg(["-ss", f"{t:.3f}", "-i", _target(media), "-frames:v", "1",
                    "-vf", f"{draw}scale={THUMB_WIDTH}:-2", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "6"])
    if not data.startswith(b"\xff\xd8"):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _drawbox(item: dict[str, Any]) -> str:
    """One ffmpeg ``drawbox`` (4 px, in the label's colour) for a box item; '' if malformed."""
    try:
        x0, y0, x1, y1 = (float(v) for v in item["box"])
    except (KeyError, TypeError, ValueError):
        return ""
    colour = BOX_COLOURS.get(str(item.get("label")), "0xffe119")
    return f"drawbox=x={x0:.0f}:y={y0:.0f}:w={max(1.0, x1 - x0):.0f}:h={max(1.0, y1 - y0):.0f}:color={colour}:t=4,"


def waveform_svg(media: Path, start_s: float, end_s: float) -> str | None:
    """An inline SVG of the audio around ``start_s``; the violation's span is shaded."""
    begin = max(0.0, start_s - WAVE_BEFORE_S)
    span = start_s + WAVE_AFTER_S - begin
    raw = _ffmpeg(["-ss", f"{begin:.3f}", "-t", f"{span:.3f}", "-i", _target(media),
                   "-vn", "-ac", "1", "-ar", str(WAVE_RATE), "-f", "s16le", "-c:a", "pcm_s16le"])
    samples = array("h")
    samples.frombytes(raw[: len(raw) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return None
    return _wave_svg(samples, begin, span, start_s, end_s)


def _wave_svg(samples: array, begin: float, span: float, start_s: float, end_s: float) -> str:
    width, mid = THUMB_WIDTH, WAVE_HEIGHT / 2
    per_px = max(1, len(samples) // width)
    lines = []
    for x in range(min(width, len(samples) // per_px)):
        chunk = samples[x * per_px:(x + 1) * per_px]
        top, bottom = max(chunk) / 32768 * mid, min(chunk) / 32768 * mid
        lines.append(f"M{x}.5 {mid - top:.1f}V{mid - bottom + 0.5:.1f}")
    x0 = (start_s - begin) / span * width
    x1 = min(width, (end_s - begin) / span * width)
    label = f"audio {begin:.1f}-{begin + span:.1f} s; violation from {start_s:.1f} s"
    return (f'<svg class="wave" role="img" aria-label="{label}" width="{width}" height="{WAVE_HEIGHT}" '
            f'viewBox="0 0 {width} {WAVE_HEIGHT}"><rect class="span" x="{x0:.1f}" y="0" '
            f'width="{max(1.0, x1 - x0):.1f}" height="{WAVE_HEIGHT}"/>'
            f'<path d="{"".join(lines)}"/><line x1="{x0:.1f}" x2="{x0:.1f}" y1="0" y2="{WAVE_HEIGHT}"/></svg>')


def _target(media: Path) -> str:
    return f"file:{Path(media).resolve()}"  # absolute, never read as an option or a protocol


def _ffmpeg(args: list[str]) -> bytes:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return b""
    try:
        done = subprocess.run([exe, "-nostdin", "-v", "error", "-threads", "1", *args, "-"],
                              capture_output=True, timeout=_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return done.stdout if done.returncode == 0 else b""
