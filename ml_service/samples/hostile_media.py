"""Hostile sample media for tests and ``bench/hostile.py``, made offline (no fixtures in the repo).

    make_png_bomb(path)       a valid 1-bit PNG declaring 20000x20000 pixels: about 50 KB on disk,
                              1.2 GB once decoded to RGB
    make_long_flac(path)      ten hours of silence as 8 kHz mono FLAC (about 21 MB; ffmpeg, ~10 s CPU)
    make_lying_wav(path)      a WAV whose header declares ten hours over one second of samples
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ml_service.sandbox.demo_media import _ffmpeg

__all__ = ["make_long_flac", "make_lying_wav", "make_png_bomb"]


def make_png_bomb(path: Path, side: int = 20_000) -> Path:
    """A valid 1-bit grey PNG of ``side`` x ``side`` pixels, all zero."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, rows = zlib.compressobj(9), b"\x00" * (1 + (side + 7) // 8) * 500
    idat = b"".join(packer.compress(rows) for _ in range(side // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return Path(path)


def make_long_flac(path: Path, seconds: float = 36_000.0) -> Path:
    """``seconds`` of digital silence, 8 kHz mono FLAC at the fastest compression level."""
    return _ffmpeg(path, ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds),
                          "-c:a", "flac", "-compression_level", "0"])


def make_lying_wav(path: Path, claimed_s: float = 36_000.0, rate: int = 8000) -> Path:
    """A 16-bit mono WAV with one second of samples whose RIFF and data sizes claim ``claimed_s``."""
    claimed = int(rate * 2 * claimed_s)
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", claimed)
    Path(path).write_bytes(header + b"\x00\x00" * rate)
    return Path(path)
