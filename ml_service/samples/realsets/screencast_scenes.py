"""Scripted sessions on a real desktop: open the apps, record, act, and write down what happened.

A :class:`Scene` opens the exam in Chromium (maximised, the page in a tab) and the other windows
of the session before the recording starts, then :meth:`Scene.play` runs steps while ffmpeg
records, and returns the truth events, timed with :meth:`Desktop.now` around each action:

    ("work", s)          working in the exam: typing in bursts, the cursor moving
    ("raise", key, s)    another window raised over the exam for s seconds, then the exam again:
                         ``window_switch`` (and ``forbidden_content`` when its page is forbidden)
    ("tab", key, s)      another browser tab for s seconds (Ctrl+2, Ctrl+1): the same events
    ("alttab", key)      Alt+Tab to a window and straight back (under a second): nothing
    ("notify", app, text, s)  a notification toast for s seconds: ``forbidden_content`` if the
                         text holds a deny-listed name, else nothing
    ("scroll", n)        the exam page scrolled by n wheel steps (negative: up): nothing
    ("next",)            the next exam question (F9): page and title change, nothing reported
    ("hover", s)         the cursor on a toolbar button until its tooltip shows: nothing
    ("menu", s)          a right-click context menu over the exam for s seconds: nothing
    ("move", s[, keep])  the exam window restored, dragged and resized, then maximised again (or,
                         with keep, left where it is until ("maximise",)): nothing

Window keys name :data:`screencast_pages.SITES` pages (Chromium ``--app`` windows) or ``term``
(xterm), ``notes`` (mousepad). Geometry is a fraction of the screen; ``None`` is maximised.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from typing import Any

from ml_service.samples.realsets.screencast_desktop import Desktop
from ml_service.samples.realsets.screencast_pages import EXAM_TITLES, SITES, exam_page, site_page

__all__ = ["Scene"]

Geometry = tuple[float, float, float, float] | None
_CHROME = ["chromium", "--no-sandbox", "--test-type", "--disable-gpu", "--no-first-run",
           "--no-default-browser-check", "--password-store=basic", "--disable-crash-reporter",
           "--disable-breakpad", "--noerrdialogs", "--disable-features=Translate,MediaRouter",
           "--disable-background-networking", "--disable-component-update", "--hide-crash-restore-bubble"]
_ANSWERS = {"ru": "Характеристический многочлен равен (4 - x)(3 - x) - 2, корни x = 2 и x = 5. ",
            "en": "The characteristic polynomial is (4 - x)(3 - x) - 2, so x = 2 and x = 5. "}
_NOTES = {"ru": "Список дел: купить хлеб и молоко, позвонить маме вечером.\n",
          "en": "To do: buy bread and milk, call mum in the evening.\n"}
_TERM = {"ru": ("user@laptop: ~/документы", "ls ~/документы\nконспект.pdf  расписание.txt  фото\n"),
         "en": ("user@laptop: ~/documents", "ls ~/documents\nnotes.pdf  timetable.txt  photos\n")}


class Scene:
    """One recorded session on ``desktop``: exam in ``lang``, windows ``{key: geometry}``."""

    def __init__(self, desktop: Desktop, lang: str, windows: dict[str, Geometry], tabs: tuple[str, ...] = (),
                 seed: int = 0) -> None:
        self.d, self.lang, self.rng = desktop, lang, random.Random(seed)
        self.dark = desktop.theme == "dark"
        self.pages = desktop.root / "pages"
        self.pages.mkdir(exist_ok=True)
        self.ids: dict[str, str] = {}
        self.titles: dict[str, str] = {}
        self.typed = 0
        self.marks: list[dict[str, Any]] = []
        self._open(windows, tabs)

    # --- set-up (before the recording) -------------------------------------------------------

    def _chrome(self, *args: str) -> None:
        self.d.spawn([*_CHROME, f"--user-data-dir={self.d.root / 'chrome'}", *args])

    def _open(self, windows: dict[str, Geometry], tabs: tuple[str, ...]) -> None:
        self._chrome("--start-maximized", exam_page(self.pages, self.lang, self.dark).as_uri())
        self.ids["exam"] = self.d.wait_window(EXAM_TITLES[self.lang].split(":")[0])
        for key in tabs:  # more tabs in the exam's window; the exam tab is shown again below
            self._chrome(site_page(self.pages, key, self.dark).as_uri())
            self.d.wait_window(_title_pattern(SITES[key][0]))
        for key, geometry in windows.items():
            self.ids[key] = self._open_window(key)
            self._place(self.ids[key], geometry)
        self.d.xdo("windowactivate", "--sync", self.ids["exam"])
        self.d.xdo("key", "ctrl+1")
        self.d.xdo("mousemove", str(self.d.size[0] // 2), str(self.d.size[1] // 2))
        self.d.wait_still()  # the exam drawn in front, whatever the machine's load

    def _open_window(self, key: str) -> str:
        if key == "term":
            title, text = _TERM[self.lang]
            colours = ["-bg", "#1c1c1c", "-fg", "#d0d0d0"] if self.dark else ["-bg", "#fdfdf6", "-fg", "#202020"]
            self.d.spawn(["xterm", "-T", title, "-fa", "DejaVu Sans Mono", "-fs", "13", *colours,
                          "-e", "sh", "-c", f"printf '%s' '{text}'; exec sleep 100000"])
            self.titles[key] = title
            return self.d.wait_window(_title_pattern(title))
        if key == "notes":
            path = self.d.root / ("заметки.txt" if self.lang == "ru" else "notes.txt")
            path.write_text(_NOTES[self.lang] * 3, encoding="utf-8")
            self.d.spawn(["mousepad", str(path)])
            self.titles[key] = f"{path} - Mousepad"
            return self.d.wait_window(_title_pattern(path.name, anchored=False))
        self._chrome(f"--app={site_page(self.pages, key, self.dark).as_uri()}")
        self.titles[key] = SITES[key][0]
        return self.d.wait_window(_title_pattern(SITES[key][0]))

    def _place(self, wid: str, geometry: Geometry) -> None:
        w, h = self.d.size
        if geometry is None:
            self.d.run(["wmctrl", "-i", "-r", wid, "-b", "add,maximized_vert,maximized_horz"])
            return
        self.d.run(["wmctrl", "-i", "-r", wid, "-b", "remove,maximized_vert,maximized_horz"])
        fx, fy, fw, fh = geometry
        self.d.run(["wmctrl", "-i", "-r", wid, "-e", f"0,{int(fx * w)},{int(fy * h)},{int(fw * w)},{int(fh * h)}"])

    # --- steps (while recording) ---------------------------------------------------------------

    def play(self, steps: list[tuple]) -> list[dict[str, Any]]:
        """Run ``steps``; return the truth events they produced (``marks`` times every step)."""
        truth: list[dict[str, Any]] = []
        for op, *args in steps:
            start = self.d.now()
            truth += getattr(self, f"_{op}")(*args) or []
            self.marks.append({"step": op, "args": list(args), "start_s": round(start, 2),
                               "end_s": round(self.d.now(), 2)})
        return truth

    def _work(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.rng.random() < 0.5:
                text = _ANSWERS[self.lang]
                chunk = text[self.typed % len(text):][: self.rng.randint(3, 8)]
                self.typed += len(chunk)
                self.d.xdo("type", "--delay", "110", "--", chunk)
            else:
                w, h = self.d.size
                self.d.xdo("mousemove", str(self.rng.randint(w // 5, 4 * w // 5)),
                           str(self.rng.randint(h // 3, 4 * h // 5)))
            time.sleep(max(0.0, min(end - time.monotonic(), self.rng.uniform(0.4, 1.2))))

    def _switch(self, show: list[str], back: list[str], seconds: float, key: str) -> list[dict[str, Any]]:
        self.d.xdo(*show)  # --sync: returns once the window is in front
        start = self.d.now()
        self._work_elsewhere(seconds)
        self.d.xdo(*back)
        end = self.d.now()
        span = {"start_s": round(start, 2), "end_s": round(end, 2), "window": self.titles.get(key, key)}
        events = [{"type": "window_switch", **span}]
        if key in SITES and SITES[key][2]:
            events.append({"type": "forbidden_content", **span})
        return events

    def _work_elsewhere(self, seconds: float) -> None:
        end = time.monotonic() + max(0.0, seconds)
        while time.monotonic() < end - 0.8:
            w, h = self.d.size
            self.d.xdo("mousemove", str(self.rng.randint(w // 4, 3 * w // 4)), str(self.rng.randint(h // 4, 3 * h // 4)))
            time.sleep(min(end - time.monotonic(), self.rng.uniform(0.6, 1.5)))
        time.sleep(max(0.0, end - time.monotonic()))

    def _raise(self, key: str, seconds: float) -> list[dict[str, Any]]:
        return self._switch(["windowactivate", "--sync", self.ids[key]],
                            ["windowactivate", "--sync", self.ids["exam"]], seconds, key)

    def _tab(self, key: str, seconds: float) -> list[dict[str, Any]]:
        self.titles[key] = SITES[key][0]
        return self._switch(["key", "ctrl+2"], ["key", "ctrl+1"], seconds, key)

    def _alttab(self, key: str) -> None:
        self.d.xdo("windowactivate", "--sync", self.ids[key])
        time.sleep(self.rng.uniform(0.3, 0.6))
        self.d.xdo("windowactivate", "--sync", self.ids["exam"])

    def _notify(self, app: str, text: str, seconds: float) -> list[dict[str, Any]]:
        self.d.run(["notify-send", "-t", str(int(seconds * 1000)), app, text])
        start = self.d.now()
        time.sleep(0.3)
        self._work(seconds - 0.3)
        forbidden = any(term in f"{app} {text}" for term in ("Telegram", "WhatsApp", "Телеграм", "ВКонтакте"))
        span = {"start_s": round(start, 2), "end_s": round(start + seconds, 2)}
        return [{"type": "forbidden_content", **span, "window": "notification"}] if forbidden else []

    def _scroll(self, steps: int) -> None:
        w, h = self.d.size
        self.d.xdo("mousemove", str(w // 2), str(2 * h // 3))
        for _ in range(abs(steps)):
            self.d.xdo("click", "5" if steps > 0 else "4")
            time.sleep(0.15)

    def _next(self) -> None:
        self.d.xdo("key", "F9")

    def _hover(self, seconds: float) -> None:
        self.d.xdo("mousemove", "96", "62")  # the reload button of a maximised Chromium
        time.sleep(seconds)

    def _menu(self, seconds: float) -> None:
        w, h = self.d.size
        self.d.xdo("mousemove", str(w // 2), str(h // 2), "click", "3")
        time.sleep(seconds)
        self.d.xdo("key", "Escape")
        self.d.xdo("mousemove", str(w // 2), str(h // 3), "click", "1")  # back into the page

    def _maximise(self) -> None:
        self.d.run(["wmctrl", "-i", "-r", self.ids["exam"], "-b", "add,maximized_vert,maximized_horz"])

    def _move(self, seconds: float, keep: bool = False) -> None:
        w, h = self.d.size
        wid = self.ids["exam"]
        self.d.run(["wmctrl", "-i", "-r", wid, "-b", "remove,maximized_vert,maximized_horz"])
        steps = max(4, int(seconds * 4))
        for i in range(steps):
            f = i / (steps - 1)
            self.d.xdo("windowsize", wid, str(int(w * (0.85 - 0.2 * f))), str(int(h * (0.85 - 0.15 * f))),
                       "windowmove", wid, str(int(w * (0.03 + 0.12 * f))), str(int(h * (0.04 + 0.06 * f))))
            time.sleep(seconds / steps)
        if not keep:
            self._maximise()


def _title_pattern(title: str, anchored: bool = True) -> str:
    """A regex matching a window whose name starts with (or holds) ``title``."""
    return ("^" if anchored else "") + re.escape(title)
