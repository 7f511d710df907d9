"""Generated media are repeatable: the same script gives the same bytes on every run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ml_service.samples import webcam as webcam_gen


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_a_webcam_clip_is_the_same_bytes_every_time(tmp_path: Path, suffix: str) -> None:
    """H.264 with a bitrate cap on two encoder threads wrote other bytes on each of 4 runs."""
    digests = set()
    for run in range(3):
        clip, _ = webcam_gen.make_clip(tmp_path / f"run{run}{suffix}", 3.0, [("away", 1, 2)], seed=5)
        digests.add(_digest(clip))
    assert len(digests) == 1
