"""Decoding any recording's audio track to 16 kHz mono float32, through an ffmpeg pipe.

:func:`decode` runs ``ffmpeg`` (Debian package ``ffmpeg``) on WAV, Ogg/Opus, WebM, MP4 and
anything else ffmpeg reads, takes the first audio stream, and reads the raw samples straight
into one preallocated array (sized from ``ffprobe``'s duration), so a one-hour file costs
about 230 MB and no copy. :class:`Stream` does the same in the background, so that analysis
can start on the first minutes. A file with no audio stream, or that yields no samples,
raises :class:`Unreadable` with ffmpeg's own words.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["SAMPLE_RATE", "Stream", "Unreadable", "decode"]

SAMPLE_RATE = 16000
_BYTES = 4  # float32
_CHUNK_BYTES = 1 << 20
_LOG_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")


class Unreadable(Exception):
    """The file has no decodable audio; the message says why (in ffmpeg's words)."""


def decode(path: Path, timeout_s: float = 600.0) -> np.ndarray:
    """The first audio stream of ``path`` as 16 kHz mono float32 samples in [-1, 1]."""
    return Stream(path).result(timeout_s)


class Stream:
    """ffmpeg decoding ``path`` in the background; samples can be used while it runs.

    A thread reads the pipe into the preallocated array; :meth:`wait_for` blocks until a number
    of samples is there (or the file ended) and :meth:`samples` gives the decoded part, so
    the VAD runs on the first minutes while ffmpeg decodes the rest on the other core.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._buffer = np.empty(0, dtype=np.float32)
        self._filled = 0  # bytes
        self._done = False
        self._error: Unreadable | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"decode-{self.path.name}", daemon=True)
        self._thread.start()

    def wait_for(self, samples: int) -> int:
        """Block until ``samples`` samples are decoded or decoding ended; return how many there are."""
        with self._changed:
            self._changed.wait_for(lambda: self._done or self._filled // _BYTES >= samples)
            return self._filled // _BYTES

    def samples(self) -> np.ndarray:
        """The samples decoded so far (a view: valid for reading while decoding goes on)."""
        with self._changed:
            return self._buffer[: self._filled // _BYTES]

    def result(self, timeout_s: float = 600.0) -> np.ndarray:
        """Every sample, once ffmpeg has finished; raises :class:`Unreadable`."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise Unreadable(f"{self.path.name}: ffmpeg did not finish in {timeout_s:g} s")
        if self._error is not None:
            raise self._error
        return self.samples()

    def _run(self) -> None:
        try:
            self._decode()
        except Unreadable as exc:
            self._error = exc
        except OSError as exc:
            self._error = Unreadable(f"{self.path.name}: cannot run ffmpeg: {exc.strerror or exc}")
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def _decode(self) -> None:
        path = self.path
        if not path.is_file():
            raise Unreadable(f"{path.name}: file not found")
        exe = shutil.which("ffmpeg")
        if exe is None:
            raise Unreadable("ffmpeg is not installed (Debian package ffmpeg)")
        target = f"file:{path.resolve()}"  # never read as an option or a protocol
        cmd = [exe, "-nostdin", "-v", "error", "-i", target, "-map", "0:a:0", "-vn", "-sn", "-dn",
               "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
        self._buffer = np.empty(_expected_samples(path), dtype=np.float32)
        with tempfile.TemporaryFile() as err, subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err) as proc:
            self._read_all(proc.stdout)
            proc.wait()
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
        if proc.returncode != 0 or self._filled < _BYTES:
            reason = _clean(stderr, path) or f"ffmpeg exit status {proc.returncode}, no samples"
            raise Unreadable(reason if path.name in reason else f"{path.name}: {reason}")

    def _read_all(self, pipe) -> None:
        """Fill the buffer from ``pipe`` in 1 MiB reads, doubling it if ffprobe's duration was short."""
        view, filled = memoryview(self._buffer).cast("B"), 0
        while True:
            if filled == len(view):
                grown = np.concatenate([self._buffer, np.empty(max(len(self._buffer), SAMPLE_RATE), np.float32)])
                with self._changed:
                    self._buffer = grown
                view = memoryview(grown).cast("B")
            got = pipe.readinto(view[filled : filled + _CHUNK_BYTES])
            if not got:
                return
            filled += got
            with self._changed:
                self._filled = filled - filled % _BYTES
                self._changed.notify_all()


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
