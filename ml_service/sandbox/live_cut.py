"""Cutting a whole recording into the segments a live session would have sent.

For the demo (``demo --live``), the latency bench and the tests: a browser records in time
slices, and each segment must be a file that plays on its own, its times starting at 0.
:func:`plan` places the cuts; :func:`cut` writes one file per segment: media are re-encoded by
ffmpeg at high quality (a cut is exact only when re-encoded: stream copy cuts at key frames),
a keystroke log (JSON, ``handlers/keystrokes/events.py``) is split by time, each part's ``t``
counted from its own start. :func:`cut_at_key_frames` is the cheap way for long recordings:
stream copy, each cut at the first key frame after its planned time (the cuts it returns are
where the segments really start).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["Cut", "cut", "cut_at_key_frames", "cut_keystrokes", "cut_media", "plan"]

Cut = tuple[float, float]  # start_s, end_s on the whole recording's timeline

_VIDEO_ARGS = {".mp4": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p"],
               ".webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "2M"]}
_AUDIO_ARGS = {".wav": ["-c:a", "pcm_s16le"], ".webm": ["-c:a", "libopus", "-b:a", "96k"],
               ".ogg": ["-c:a", "libopus", "-b:a", "96k"], ".mp4": ["-c:a", "aac", "-b:a", "128k"]}


def plan(duration_s: float, segment_s: float) -> list[Cut]:
    """Consecutive cuts of ``segment_s`` (the last one takes the rest; a sliver under 1 s joins it)."""
    if duration_s <= 0 or segment_s <= 0:
        raise ValueError("duration and segment length must be positive")
    cuts, start = [], 0.0
    while duration_s - start > 1e-6:
        end = min(duration_s, start + segment_s)
        if duration_s - end < 1.0:
            end = duration_s
        cuts.append((round(start, 3), round(end, 3)))
        start = end
    return cuts


def cut(path: Path, out_dir: Path, cuts: list[Cut], stem: str | None = None) -> list[Path]:
    """One file per cut, named ``<stem>-seg<k><suffix>`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or path.stem
    if path.suffix.lower() == ".json":
        return cut_keystrokes(path, out_dir, cuts, stem)
    return [cut_media(path, out_dir / f"{stem}-seg{k:03d}{path.suffix.lower()}", start, end)
            for k, (start, end) in enumerate(cuts)]


def cut_media(path: Path, out: Path, start_s: float, end_s: float) -> Path:
    """``start_s <= t < end_s`` of ``path`` as a file of its own (ffmpeg, re-encoded)."""
    video = _has_video(path)
    # -ss before -i: a seek to the key frame before, then exact (decoded, re-encoded) from there
    args = ["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{start_s:.3f}", "-i", str(path),
            "-t", f"{end_s - start_s:.3f}"]
    suffix = out.suffix.lower()
    args += (_VIDEO_ARGS.get(suffix, []) if video else ["-vn"]) + _AUDIO_ARGS.get(suffix, [])
    subprocess.run([*args, str(out)], check=True, capture_output=True, timeout=600)
    return out


def _has_video(path: Path) -> bool:
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "stream=codec_type",
                            "-of", "csv=p=0", str(path)], capture_output=True, text=True, timeout=60)
    return "video" in probe.stdout


def cut_keystrokes(path: Path, out_dir: Path, cuts: list[Cut], stem: str) -> list[Path]:
    """A keystroke log split by time; each part's ``t`` and ``duration`` in its own time."""
    data = json.loads(path.read_text("utf-8"))
    events, unit = (data, "ms") if isinstance(data, list) else (data["events"], data.get("time_unit", "ms"))
    scale = 1000.0 if unit == "ms" else 1.0
    out = []
    for k, (start, end) in enumerate(cuts):
        lo, hi = start * scale, end * scale
        part = [{**e, "t": round(e["t"] - lo, 3)} for e in events if lo <= e["t"] < hi or (k == len(cuts) - 1 and e["t"] == hi)]
        doc: dict[str, Any] = {"format": "keystrokes/1", "time_unit": unit, "duration": round(hi - lo, 3), "events": part}
        target = out_dir / f"{stem}-seg{k:03d}.json"
        target.write_text(json.dumps(doc), "utf-8")
        out.append(target)
    return out


def cut_at_key_frames(path: Path, out_dir: Path, segment_s: float, stem: str | None = None,
                      ) -> tuple[list[Cut], list[Path]]:
    """Segments of about ``segment_s`` by stream copy (no re-encoding), and where they really
    start and end (the segment muxer's own list: within a few frames, the encoder's delay)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or path.stem
    listing = out_dir / f"{stem}-segments.csv"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(path), "-map", "0", "-c", "copy",
                    "-f", "segment", "-segment_time", f"{segment_s:.3f}", "-reset_timestamps", "1",
                    "-segment_list", str(listing), "-segment_list_type", "csv",
                    str(out_dir / f"{stem}-seg%03d{path.suffix.lower()}")], check=True, capture_output=True, timeout=3600)
    rows = [line.split(",") for line in listing.read_text().splitlines() if line.strip()]
    return [(round(float(a), 3), round(float(b), 3)) for _, a, b in rows], [out_dir / name for name, _, _ in rows]
