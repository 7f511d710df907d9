"""Media helpers shared by the sample generators."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["encode_frames", "loop_concat"]


def encode_frames(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float,
                  pix_fmt: str, encoder: list[str]) -> None:
    """Pipe raw ``pix_fmt`` frames of ``size`` (w, h) into ffmpeg, which encodes them at ``path``
    with the ``encoder`` arguments (bit-exact, no metadata, one thread: libx264 with a bitrate cap
    on two threads wrote different bytes on every run); RuntimeError if ffmpeg fails."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (Debian package: ffmpeg)")
    cmd = [ffmpeg, "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{size[0]}x{size[1]}",
           "-r", f"{fps:g}", "-i", "pipe:", *encoder, "-threads", "1", "-fflags", "+bitexact",
           "-flags:v", "+bitexact", "-map_metadata", "-1", str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for frame in frames:
            proc.stdin.write(frame.tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed making {Path(path).name}: {err.strip()[-300:]}")


def loop_concat(parts: list[Path], minutes: float, out: Path, listing: Path) -> Path:
    """Repeat ``parts`` in turn, without re-encoding, into a ``minutes``-long ``out``.

    Each part is assumed to be 2 minutes long; ffmpeg's concat demuxer copies the streams,
    so an hour takes seconds.
    """
    loops = max(1, math.ceil(minutes / 2))
    listing.write_text("".join(f"file '{parts[i % len(parts)].name}'\n" for i in range(loops)))
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed (Debian package: ffmpeg)")
    cmd = [ffmpeg, "-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
           "-t", f"{minutes * 60:g}", "-c", "copy", "-map_metadata", "-1", str(out)]
    done = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg concat failed: {done.stderr.decode('utf-8', 'replace')[-300:]}")
    return out
