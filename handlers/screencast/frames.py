"""Decoding: grey frames at a low, fixed sampling rate from an ffmpeg pipe.

One ``ffmpeg`` process decodes the recording single-threaded, skips frames no other frame
references (``-skip_frame noref``: B-frames cost nothing when we sample at 2 fps), keeps
``sample_fps`` frames per second, and writes the luma plane as raw bytes: no colour or range
conversion (that costs ~40 % of the decoding), so black is 16 in TV-range video and 0 in PC-range. A mid-stream change of resolution is scaled into the first frame size and padded
centred, so it shows as black bars, the same cue a recorder gives when the shared screen
changes shape. A reader thread fills a bounded queue so decoding overlaps the analysis and OCR.

:func:`sample_frames` yields ``(t_seconds, grey uint8 array HxW)``; it raises
:class:`DecodeError` when ffmpeg cannot start or fails before the first frame.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["DecodeError", "analysis_size", "sample_frames"]

_QUEUE_FRAMES = 24
_END = object()


class DecodeError(Exception):
    """ffmpeg is missing or could not decode a single frame; the message says why."""


def analysis_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The frame size we analyse at: the recording's, shrunk to ``max_width``; even numbers."""
    if width > max_width:
        width, height = max_width, round(height * max_width / width)
    return width - width % 2, height - height % 2


def _command(path: Path, size: tuple[int, int], sample_fps: float, threads: int) -> list[str]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise DecodeError("ffmpeg is not installed (Debian package ffmpeg; run install.sh)")
    w, h = size
    chain = (  # the luma plane as it is (no range conversion); same-size scale/pad pass through
        f"fps={sample_fps:g},extractplanes=y,"
        f"scale={w}:{h}:force_original_aspect_ratio=decrease:flags=area,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
    )
    return [exe, "-nostdin", "-v", "error", "-threads", str(threads), "-skip_frame", "noref",
            "-i", f"file:{path.resolve()}", "-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", chain, "-f", "rawvideo", "pipe:"]


def sample_frames(
    path: Path, size: tuple[int, int], sample_fps: float, threads: int = 1
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, grey frame)`` every ``1 / sample_fps`` seconds of the recording."""
    w, h = size
    frame_bytes = w * h
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(_command(Path(path), size, sample_fps, threads),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        frames: queue.Queue = queue.Queue(maxsize=_QUEUE_FRAMES)
        reader = threading.Thread(target=_read, args=(proc, frame_bytes, frames), daemon=True)
        reader.start()
        count = 0
        try:
            while (item := frames.get()) is not _END:
                yield count / sample_fps, np.frombuffer(item, np.uint8).reshape(h, w)
                count += 1
        finally:
            _stop(proc, reader, frames)
        if count == 0:
            errors.seek(0)
            text = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise DecodeError(f"ffmpeg decoded no frame: {'; '.join(text[-3:]) or 'no video frames'}")


def _stop(proc: subprocess.Popen, reader: threading.Thread, frames: queue.Queue) -> None:
    proc.kill()
    while reader.is_alive():  # unblock a reader waiting on a full queue
        _drain(frames)
        reader.join(0.05)
    proc.stdout.close()
    proc.wait()

def _read(proc: subprocess.Popen, frame_bytes: int, frames: queue.Queue) -> None:
    try:
        while True:
            data = proc.stdout.read(frame_bytes)
            if len(data) < frame_bytes:
                break
            frames.put(data)
    except (OSError, ValueError):
        pass  # the pipe was closed because the consumer stopped early
    finally:
        frames.put(_END)


def _drain(frames: queue.Queue) -> None:
    try:
        while True:
            frames.get_nowait()
    except queue.Empty:
        pass
