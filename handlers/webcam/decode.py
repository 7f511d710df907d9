"""Streaming frame source: Debian ``ffmpeg`` decodes, Python receives a few frames per second.

``ffmpeg`` runs as a child process, in parallel with the models (the second core), and pipes
raw ``yuv420p`` frames (no colour conversion in the decoder). It is told to do as little as
the analysis needs:

- ``-skip_frame noref``: frames no other frame references (most B-frames of an x264 stream)
  are not decoded at all. This is lossless for every frame that is decoded.
- ``-skip_loop_filter all``: no deblocking (measured ~41-43 dB PSNR against a full decode:
  invisible to the face models, 15-25 % less decode work).
- ``select``: only frames at least ``1/fps`` apart leave the decoder (variable frame rate
  recordings from browsers are handled: the choice is made on timestamps).
- ``showinfo=checksum=0``: timestamps without hashing every frame (-23 % ffmpeg CPU), and one
  decoding thread (the other core runs the models).

Timestamps come from ffmpeg's ``showinfo`` filter on stderr, read by a helper thread. The
recording is never held in memory: one frame at a time crosses the pipe.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Frame", "MediaUnreadable", "VideoInfo", "frames", "video_info"]

_PTS = re.compile(r"\bn:\s*(\d+).*?\bpts_time:\s*([-0-9.eE+]+)")
_STDERR_KEEP = 20


class MediaUnreadable(Exception):
    """The recording has no decodable video stream; the message says why."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    codec: str | None


@dataclass
class Frame:
    """One decoded frame: ``t`` in seconds and its planes (Y full size, U and V quarter)."""

    t: float
    yuv: np.ndarray  # (h * 3 // 2, w) uint8, I420 layout

    @property
    def luma(self) -> np.ndarray:
        return self.yuv[: self.yuv.shape[0] * 2 // 3]

    def rgb(self) -> np.ndarray:
        import cv2

        return cv2.cvtColor(self.yuv, cv2.COLOR_YUV2RGB_I420)


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise MediaUnreadable(f"{name} is not installed (Debian package ffmpeg)")
    return exe


def video_info(path: Path, timeout_s: float = 60) -> VideoInfo:
    """Size, frame rate, duration and codec of the first video stream."""
    cmd = [_tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-print_format", "json",
           "-show_streams", "-show_format", f"file:{Path(path).resolve()}"]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise MediaUnreadable(_last_line(done.stderr.decode("utf-8", "replace")) or "ffprobe failed")
    data = json.loads(done.stdout or b"{}")
    streams = data.get("streams") or []
    if not streams or not streams[0].get("width"):
        raise MediaUnreadable("no video stream")
    s = streams[0]
    return VideoInfo(int(s["width"]), int(s["height"]), _rate(s.get("avg_frame_rate")),
                     _float((data.get("format") or {}).get("duration")) or _float(s.get("duration")),
                     s.get("codec_name"))


def frames(path: Path, info: VideoInfo, fps: float, threads: int = 1,
           start_s: float = 0.0, end_s: float | None = None) -> Iterator[Frame]:
    """Yield frames at most ``fps`` per second, in order; raise MediaUnreadable on failure.

    ``start_s`` / ``end_s`` limit the stream to ``start_s <= t < end_s`` (ffmpeg seeks to the
    key frame before ``start_s`` and decodes from there); ``t`` stays the time in the file.
    """
    w, h = info.width, info.height
    if w % 2 or h % 2:
        raise MediaUnreadable(f"odd frame size {w}x{h} is not supported")
    step = max(0.0, 1.0 / fps - 0.02)
    span: list[str] = []
    if start_s > 0:
        span += ["-ss", f"{start_s:.3f}"]  # output times then count from start_s
    if end_s is not None:
        span += ["-t", f"{end_s - start_s + 1.0:.3f}"]  # a second more: the cut is made here
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "info", "-threads", str(threads),
           "-skip_frame", "noref", "-skip_loop_filter", "all", *span, "-i", f"file:{Path(path).resolve()}",
           "-map", "0:v:0", "-an", "-sn", "-dn",
           "-vf", f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{step:.4f})',showinfo=checksum=0",
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)
    stamps: queue.Queue[float | None] = queue.Queue()
    tail: list[str] = []
    reader = threading.Thread(target=_read_stderr, args=(proc.stderr, stamps, tail), daemon=True)
    reader.start()
    size = w * h * 3 // 2
    count = 0
    try:
        while True:
            buf = _read_exact(proc.stdout, size)
            if buf is None:
                break
            t = stamps.get(timeout=60)
            if t is None:
                break
            t += start_s
            if end_s is not None and t >= end_s:
                break
            count += 1
            yield Frame(t, np.frombuffer(buf, np.uint8).reshape(h * 3 // 2, w))
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        reader.join(timeout=5)
    if count == 0:
        raise MediaUnreadable(_last_line("\n".join(tail)) or f"ffmpeg exit status {code}: no frame decoded")


def _read_exact(stream, size: int) -> bytearray | None:
    """One frame straight into its own buffer (no chunk list, no join)."""
    buf = bytearray(size)
    view, got = memoryview(buf), 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            return None
        got += n
    return buf


def _read_stderr(stream, stamps: queue.Queue, tail: list[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace")
        if "Parsed_showinfo" in line:
            m = _PTS.search(line)
            if m:
                stamps.put(float(m.group(2)))
            continue
        tail.append(line.strip())
        del tail[:-_STDERR_KEEP]
    stamps.put(None)


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and "Parsed_showinfo" not in ln]
    errors = [ln for ln in lines if "rror" in ln or "nvalid" in ln]
    return (errors or lines or [""])[-1][:300]


def _rate(text: str | None) -> float | None:
    try:
        num, _, den = (text or "").partition("/")
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None
