"""The screencast real set: sessions on a real X desktop, recorded here, truth from the script.

``build({}, out_dir)`` records each scene of :data:`SCENES` on its own desktop
(:class:`~ml_service.samples.realsets.screencast_desktop.Desktop`: Xvfb, openbox, dunst, Chromium, xterm, mousepad,
xdotool, ffmpeg x11grab) in real time, ~15 minutes in all, then the clean hour: three different
two-minute sessions of someone working in the exam only, recorded for real and looped with
ffmpeg's concat (no re-encoding) to 60 minutes, so "false alarms per clean hour" is measured on
an hour of real desktop video, though not on an hour of different activity.

Scenes cover: non-maximised windows raised over the exam (a messenger, an answers site, an AI
chat, a terminal, an editor), maximised switches, browser tabs, Alt+Tab there and back in under a
second (no violation by default), the exam window moved and resized, notification toasts,
tooltips and menus, the exam page scrolling and changing question; light (openbox Clearlooks)
and dark (Onyx, dark pages) themes; 1280x720 and 1920x1080 screens; Russian and English pages;
H.264 and VP8 recordings. :func:`record_scene` records one scene (the CI test uses it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from ml_service.samples.realsets.screencast_desktop import Desktop
from ml_service.samples.realsets.screencast_scenes import Scene
from ml_service.samples import Sample
from ml_service.samples._media import loop_concat

__all__ = ["CHECKS", "RECORDED_HERE", "SCENES", "Recording", "build", "record_scene"]

logger = logging.getLogger(__name__)
RECORDED_HERE = True  # no source files: the manifest lists none, the desktops are recorded here
CHECKS = ["window_switch", "forbidden_content"]
HD, FULL_HD = (1280, 720), (1920, 1080)
_TELEGRAM_RU = ("Telegram", "Иван Петров: ответ на четвёртый вопрос — 17")

# name: (screen, theme, lang, fps, codec, windows {key: geometry or None}, tabs, steps)
SCENES: dict[str, tuple] = {
    "desktop-chat-over-exam-ru": (HD, "light", "ru", 10, "h264",
                                  {"telegram": (0.3, 0.2, 0.45, 0.55), "notes": (0.5, 0.42, 0.42, 0.45)}, (),
                                  [("work", 10), ("raise", "telegram", 8), ("work", 10), ("raise", "notes", 6),
                                   ("work", 10)]),
    "desktop-dark-en-1080": (FULL_HD, "dark", "en", 10, "h264",
                             {"chatgpt": (0.25, 0.15, 0.45, 0.55), "term": (0.05, 0.5, 0.42, 0.4),
                              "whatsapp": (0.5, 0.3, 0.4, 0.45)}, (),
                             [("work", 8), ("raise", "chatgpt", 8), ("work", 8), ("raise", "term", 6),
                              ("work", 8), ("raise", "whatsapp", 7), ("work", 8)]),
    "desktop-maximised-ru": (HD, "light", "ru", 10, "h264", {"vk": None, "notes": None}, (),
                             [("work", 8), ("raise", "vk", 8), ("work", 10), ("raise", "notes", 6), ("work", 8)]),
    "desktop-tabs-ru-1080": (FULL_HD, "light", "ru", 10, "h264", {}, ("otvet",),
                             [("work", 8), ("tab", "otvet", 7), ("work", 10), ("tab", "otvet", 5), ("work", 8)]),
    "desktop-alt-tab-fast": (HD, "dark", "en", 10, "h264",
                             {"notes": (0.2, 0.2, 0.5, 0.5), "term": (0.35, 0.35, 0.45, 0.45)}, (),
                             [("work", 6), ("alttab", "notes"), ("work", 6), ("alttab", "term"), ("work", 6),
                              ("alttab", "notes"), ("work", 6), ("alttab", "term"), ("work", 6),
                              ("alttab", "notes"), ("work", 8)]),
    "desktop-move-resize-ru-1080": (FULL_HD, "light", "ru", 10, "h264", {"term": (0.6, 0.6, 0.35, 0.3)}, (),
                                    [("work", 8), ("move", 3), ("work", 6), ("move", 3, True), ("work", 12),
                                     ("scroll", 3), ("work", 6), ("maximise",), ("work", 8)]),
    "desktop-notifications-ru": (HD, "dark", "ru", 10, "h264", {}, (),
                                 [("work", 6), ("notify", *_TELEGRAM_RU, 6), ("work", 8),
                                  ("notify", "Обновление системы", "Доступны обновления: 3 пакета", 6), ("work", 8),
                                  ("notify", "WhatsApp", "Bob: answer to Q4 is 17", 5), ("work", 6), ("hover", 3),
                                  ("menu", 3), ("work", 6)]),
    "desktop-exam-work-en": (HD, "light", "en", 10, "h264", {}, (),
                             [("work", 10), ("scroll", 4), ("work", 8), ("scroll", -4), ("next",), ("work", 10),
                              ("hover", 3), ("work", 6), ("menu", 3), ("work", 6), ("next",), ("scroll", 6),
                              ("work", 10)]),
    "desktop-mixed-dark-ru-1080": (FULL_HD, "dark", "ru", 10, "h264",
                                   {"telegram": (0.35, 0.1, 0.4, 0.5), "term": (0.1, 0.45, 0.4, 0.4),
                                    "otvet": (0.2, 0.25, 0.5, 0.5), "weather": None}, ("yandex",),
                                   [("work", 8), ("raise", "telegram", 7), ("work", 8), ("tab", "yandex", 6),
                                    ("work", 6), ("alttab", "term"), ("work", 6), ("notify", *_TELEGRAM_RU, 5),
                                    ("work", 6), ("raise", "otvet", 8), ("work", 8), ("raise", "weather", 6),
                                    ("work", 8)]),
    "desktop-webm-en": (HD, "light", "en", 15, "vp8",
                        {"whatsapp": (0.4, 0.3, 0.45, 0.5), "term": (0.08, 0.3, 0.45, 0.45)}, (),
                        [("work", 8), ("raise", "whatsapp", 8), ("work", 8), ("scroll", 3), ("work", 2),
                         ("raise", "term", 6),
                         ("work", 8)]),
}
# three different two-minute clean sessions of one exam (Russian), looped to the clean hour (same
# size, rate and codec; the seams look like a change of question)
CLEAN_PARTS: list[tuple] = [
    (HD, "light", "ru", 10, "h264", {"notes": (0.3, 0.3, 0.4, 0.4)}, (),
     [("work", 20), ("scroll", 4), ("work", 15), ("next",), ("work", 15), ("hover", 3), ("work", 15),
      ("notify", "Обновление системы", "Доступны обновления: 3 пакета", 5), ("work", 15), ("scroll", -4),
      ("work", 15), ("menu", 2), ("work", 20)]),
    (HD, "dark", "ru", 10, "h264", {"term": (0.1, 0.4, 0.4, 0.4)}, (),
     [("work", 15), ("alttab", "term"), ("work", 15), ("next",), ("work", 15), ("scroll", 5), ("work", 15),
      ("scroll", -5), ("work", 15), ("alttab", "term"), ("work", 15), ("next",), ("work", 30)]),
    (HD, "light", "ru", 10, "h264", {}, (),
     [("work", 15), ("move", 3), ("work", 15), ("move", 3, True), ("work", 20), ("maximise",), ("work", 15),
      ("scroll", 3), ("work", 15), ("next",), ("work", 35)]),
]
_SUFFIX = {"h264": ".mp4", "vp8": ".webm"}


class Recording(NamedTuple):
    """A recorded scene: the file, its truth events, its length (the end of its last step), when
    each step ran, and when the capture had stopped (the file may run on until then)."""

    path: Path
    truth: list[dict[str, Any]]
    length_s: float
    marks: list[dict[str, Any]]
    stopped_s: float


def record_scene(out: Path, work_dir: Path, scene: tuple, seed: int = 0) -> Recording:
    """Record one scene (an entry of :data:`SCENES`' shape) into ``out``."""
    size, theme, lang, fps, codec, windows, tabs, steps = scene
    with Desktop(work_dir, size, theme) as desktop:
        played = Scene(desktop, lang, windows, tabs, seed=seed)
        desktop.record(out, fps, codec)
        truth = played.play(steps)
        length = desktop.now()
        desktop.stop_recording()
        stopped = desktop.now()
    return Recording(Path(out), truth, round(length, 2), played.marks, round(stopped, 2))


def build(files: dict[str, Path], out_dir: Path) -> list[Sample]:
    """Record every scene and the clean hour into ``out_dir`` (~25 minutes of real time)."""
    out_dir = Path(out_dir)
    samples = []
    for i, (name, scene) in enumerate(SCENES.items()):
        logger.info("recording %s", name)
        rec = record_scene(out_dir / f"{name}{_SUFFIX[scene[4]]}", out_dir / "desktops" / name, scene, seed=i)
        samples.append(Sample(name=name, modality="screencast", recordings=[rec.path], duration_s=rec.length_s,
                              truth=rec.truth, clean=not rec.truth, checks=CHECKS))
    samples.append(_clean_hour(out_dir))
    return samples


def _clean_hour(out_dir: Path) -> Sample:
    parts = []
    for i, scene in enumerate(CLEAN_PARTS):
        logger.info("recording clean part %d", i)
        rec = record_scene(out_dir / f"clean-part{i}.mp4", out_dir / "desktops" / f"clean{i}", scene, seed=100 + i)
        assert not rec.truth, f"clean part {i} planted events: {rec.truth}"
        parts.append(rec.path)
    hour = loop_concat(parts, 60, out_dir / "desktop-clean-hour.mp4", out_dir / "clean-hour.txt")
    return Sample(name="desktop-clean-hour", modality="screencast", recordings=[hour], duration_s=3600.0,
                  truth=[], clean=True, checks=CHECKS)
