"""Which modality a local recording is, and which role a reference file plays.

Used by ``python -m ml_service analyze --modality auto``. The rules are simple on purpose, and
``analyze`` prints what it decided, so a wrong guess is plain to see and fixed with
``--modality``:

1. a ``.json`` file is a keystroke log: ``keystrokes``;
2. otherwise :func:`ml_service.core.media_probe.probe` reads it; unreadable media is an error;
3. a still image is a reference photo, not a recording: an error (use ``--reference``);
4. audio streams and no video stream: ``audio``;
5. video at least 1280x720 (either orientation): ``screencast``; smaller video: ``webcam``.

An HD (720p) webcam therefore counts as a screen recording: pass ``--modality webcam``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ml_service.core.media_probe import probe

__all__ = ["MODALITIES", "SCREEN_MIN", "ModalityError", "guess_modality", "reference_role"]

MODALITIES = ("webcam", "screencast", "audio", "keystrokes", "debug")
SCREEN_MIN = (1280, 720)


class ModalityError(ValueError):
    """The file's modality or role cannot be told; the message says why and what to pass."""


def guess_modality(path: Path, facts: dict[str, Any] | None = None) -> str:
    """The modality of one recording by the rules above; :class:`ModalityError` if none fits."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return "keystrokes"
    facts = probe(path) if facts is None else facts
    if not facts["readable"]:
        raise ModalityError(f"{path.name}: not readable media ({facts.get('reason')}); pass --modality")
    if facts.get("still_image"):
        raise ModalityError(f"{path.name} is a still image: pass it with --reference, not as a recording")
    video = _largest_video(facts)
    if video is None:
        return "audio"
    width, height = sorted((video.get("width") or 0, video.get("height") or 0), reverse=True)
    return "screencast" if width >= SCREEN_MIN[0] and height >= SCREEN_MIN[1] else "webcam"


def reference_role(path: Path, facts: dict[str, Any] | None = None) -> str:
    """``reference_photo`` for a still image, ``reference_voice`` for audio without video."""
    path = Path(path)
    facts = probe(path) if facts is None else facts
    if facts["readable"] and facts.get("still_image"):
        return "reference_photo"
    if facts["readable"] and _largest_video(facts) is None:
        return "reference_voice"
    raise ModalityError(f"reference {path.name} is neither a photo nor a voice recording")


def _largest_video(facts: dict[str, Any]) -> dict[str, Any] | None:
    videos = [s for s in facts.get("streams") or [] if s.get("type") == "video"]
    return max(videos, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0), default=None)
