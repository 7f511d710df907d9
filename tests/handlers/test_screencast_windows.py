"""Windows seen only by their text (a dark window over a dark page): ``screen_text.TextTracker``.

Drawn frames, no OCR: a dark exam page (a header bar with a ticking timer, lines of text) and,
for a while, a dark window of the page's own colour over it, so that only text changes; OCR
requests are recorded instead of run. Such a window is named by a title bar found above its
text, which must have come with it: the page's own header, found above text that changed
without a window (the answer being typed), is what the screen showed before (on the real
desktop set it was read as a window's title in the clean hour).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from handlers.screencast.changes import ScreenSignals, shrink
from handlers.screencast.ocr import Box
from handlers.screencast.screen_text import TextTracker

W, H = 1280, 720
PAGE, HEADER, BAR = 30, 60, 52  # grey levels: the page, its header, the window's title bar
WINDOW: Box = (320, 200, 680, 360)
FONT = ImageFont.load_default(size=18)  # Pillow's own font: no system fonts needed
LINE = "A matrix is symmetric when it equals its transpose; an eigenvector satisfies A v = x v."


def _frame(t: float, window: bool = False, answer: str = "") -> np.ndarray:
    img = Image.new("L", (W, H), PAGE)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, W, 80], fill=70)
    draw.text((80, 30), "Exam 42: Linear Algebra", fill=230, font=FONT)
    draw.rectangle([0, 88, W, 134], fill=HEADER)
    draw.text((32, 100), "University LMS", fill=255, font=FONT)
    draw.text((1040, 100), f"Time left 0:44:{59 - int(t):02d}", fill=255, font=FONT)
    for y in range(180, 700, 48):
        draw.text((40, y), LINE, fill=220, font=FONT)
    for i, part in enumerate(answer.split("|")):
        draw.text((40, 300 + 26 * i), part, fill=240, font=FONT)
    if window:
        x, y, w, h = WINDOW
        draw.rectangle([x, y, x + w, y + h], fill=PAGE)
        draw.rectangle([x, y, x + w, y + 26], fill=BAR)
        draw.text((x + 20, y + 3), "ChatGPT", fill=235, font=FONT)
        for ty in range(y + 60, y + h - 20, 40):
            draw.text((x + 20, ty), "You: what are the eigenvalues of [[2, 1], [1, 2]]?", fill=210, font=FONT)
    return np.array(img)


class _Ocr:
    """Records what would be read."""

    def __init__(self) -> None:
        self.titles: list[Box] = []

    def submit(self, frame: np.ndarray, box: Box, scale: float = 1.0, title: bool = False) -> int:
        if title:
            self.titles.append(box)
        return len(self.titles)


def _windows(frames: list[np.ndarray]) -> tuple[list[tuple], list[Box]]:
    """Feed 2 samples a second; the windows the tracker logged and the title crops it sent."""
    ocr = _Ocr()
    tracker = TextTracker(ocr)  # type: ignore[arg-type]
    signals = ScreenSignals(0.5, 24, 4.0)
    for i, frame in enumerate(frames):
        small = shrink(frame)
        motion, blank = signals.add(i * 0.5, small)
        tracker.update(i * 0.5, frame, small, motion, blank, signals.boxes[-1])
    return [e for e in tracker.log.entries if e[0] == "window"], ocr.titles


def test_a_dark_window_over_a_dark_page_is_named_by_its_own_title_bar() -> None:
    windows, titles = _windows([_frame(i / 2, window=8 <= i < 22) for i in range(30)])
    [(_, since, _, _, crops, text_ok)] = windows
    assert since == 4.0 and len(crops) == 1 and not text_ok
    x, y, w, h = WINDOW
    [(tx, ty, _, _)] = [b for b in titles if b[1] > 150]  # the crop read: the window's title bar
    assert abs(tx - x) <= 4 and abs(ty - y) <= 4


def test_the_page_header_above_text_typed_without_a_window_names_no_window() -> None:
    # an answer of several lines pasted into the page at once: only text changes, below the header
    answer = "|".join(["The eigenvalues are 2 and 5; the eigenvector for 5 is (1, 1) and for 2 it is (1, -2), "
                       "as A - 5 I has rank one."] * 5)
    windows, _ = _windows([_frame(i / 2, answer=answer if i >= 8 else "") for i in range(30)])
    assert windows == []
