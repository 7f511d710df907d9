"""Media helpers shared by the sample generators."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

__all__ = ["loop_concat"]


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
