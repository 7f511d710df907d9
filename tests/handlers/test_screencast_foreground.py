"""Which window is in front, replayed from the tracker's log (``timeline.replay``, ``findings``).

The logs are written by hand in the shape the tracker writes on the real desktop recordings
(``bench/quality.py --real --modality screencast``): boxes, times and OCR text are those seen on
``desktop-exam-work-en``, ``desktop-mixed-dark-ru-1080`` and the clean hour, where the exam
page's own header was taken for a raised window's title bar, and in the desktop test under CPU
load (a page scrolled back up, painted late). Pure functions: no media, no OCR.
"""

from __future__ import annotations

from handlers.screencast.findings import window_switches
from handlers.screencast.matching import DEFAULT_DENY_LIST, Matcher
from handlers.screencast.ocr import Box, Line
from handlers.screencast.timeline import TextLog, replay

END = 60.0
EXAM_TAB = Line("Exam 42: Linear Algebra", (73, 14, 158, 15), 96.0)
HEADER = Line("University LMS Time left 0:44:59", (33, 102, 1077, 21), 95.0)
PAGE = [HEADER, Line("Question 2", (41, 180, 163, 25), 94.0),
        Line("Explain why every real symmetric matrix has only real eigenvalues.", (42, 234, 610, 17), 93.0),
        Line("Reference notes", (42, 342, 192, 17), 95.0)]
SCREEN: Box = (0, 0, 1280, 720)


class _Log:
    """A TextLog and the OCR results of its crops, written together."""

    def __init__(self) -> None:
        self.log, self.results = TextLog(), {}

    def crop(self, *lines: Line) -> int:
        self.results[len(self.results) + 1] = list(lines)
        return len(self.results)

    def exam(self, t: float = 0.0) -> _Log:
        """The exam page read whole, its tab read at the top."""
        self.log.read(t, SCREEN, self.crop(*PAGE))
        self.log.title(t, self.crop(EXAM_TAB), "browser_tab")
        self.log.settle(t)
        return self

    def read(self, t: float, box: Box, *lines: Line) -> None:
        self.log.read(t, box, self.crop(*lines))
        self.log.settle(t)

    def window(self, t: float, box: Box, bands: list[Line], text_ok: bool = True, body: list[Line] = ()) -> None:
        """A window appeared over ``box``: its title bands read, then its region."""
        self.log.window(t, box, t * 10, [self.crop(b) for b in bands], text_ok)
        if body:
            self.log.read(t, box, self.crop(*body))
        self.log.settle(t)

    def switches(self) -> list[dict]:
        contexts, _ = replay(self.log, self.results, Matcher(DEFAULT_DENY_LIST), END)
        return window_switches(contexts, END, 1.0)


def test_the_exam_header_dropped_from_view_by_a_partial_read_is_no_window() -> None:
    # a tooltip over the reload button is read: the header line it touches drops from view ...
    log = _Log().exam()
    log.read(33.0, (88, 60, 152, 48), Line("Reload this page", (96, 72, 130, 14), 90.0))
    log.read(35.5, (88, 60, 152, 48))
    # ... then the answer box loses its focus ring: a thin change, and the band above it is the header
    log.window(43.0, (40, 268, 1048, 184), [Line("University LMS Time", (33, 102, 1077, 21), 96.0)], text_ok=False)
    assert log.switches() == []


def test_the_exam_header_painted_late_after_scrolling_back_up_is_no_window() -> None:
    # under CPU load the browser paints a scrolled page tile by tile: the header's rows, scrolled
    # back into view, are read blank, then their tile appears as a block with the header on top
    log = _Log().exam()
    log.log.shift(20.5, (88, 720), 300)
    log.log.settle(20.5)
    log.log.shift(26.0, (88, 720), -300)
    log.read(26.0, (0, 88, 1280, 300))
    log.window(27.0, (40, 88, 1100, 420), [Line("University LMS Time left 0:44:33", (33, 102, 1077, 21), 94.0)])
    assert log.switches() == []


def test_the_exam_tab_shown_again_is_no_window_named_by_its_page_header() -> None:
    # the exam, another tab (a new page read whole), the exam tab again: the page area changed as a
    # block narrower than the screen, and its band is the exam page's header, where it always was
    log = _Log().exam()
    log.read(23.5, (0, 80, 1280, 640), Line("Яндекс Поиск", (42, 123, 136, 18), 95.0),
             Line("Как найти ранг матрицы", (42, 222, 247, 20), 95.0))
    log.log.title(23.5, log.crop(Line("ранг матрицы 3x3 — Яндекс", (311, 16, 158, 13), 92.0)), "browser_tab")
    log.log.settle(23.5)
    log.window(29.5, (32, 100, 1156, 600), [Line("University LMS Time le", (33, 102, 1000, 20), 92.0)])
    log.log.read(29.5, (0, 80, 1280, 640), log.crop(*PAGE))
    log.log.title(29.5, log.crop(EXAM_TAB), "browser_tab")
    log.log.settle(29.5)
    [switch] = log.switches()
    assert (switch["start_s"], switch["end_s"]) == (23.5, 29.5)
    assert switch["details"]["recognised_by"] == "browser_tab"


def test_the_exam_window_restored_and_dragged_is_no_window() -> None:
    # its own tab strip is the band at its top; a band further down (its page header, moved with
    # it, so nowhere the page showed it before, and out of view since a tooltip's read touched it)
    # is not the window's title
    log = _Log().exam()
    log.read(12.0, (88, 60, 152, 48), Line("Reload this page", (96, 72, 130, 14), 90.0))
    log.window(20.0, (268, 100, 900, 560), [Line("Exam 42: Linear Algebra", (364, 123, 154, 11), 96.0),
                                            Line("University LMS Tim", (325, 212, 900, 19), 90.0)])
    log.read(22.0, (268, 100, 900, 560), *[Line(ln.text, (ln.box[0] + 290, ln.box[1] + 110, ln.box[2], ln.box[3]),
                                                 ln.conf) for ln in PAGE])
    assert log.switches() == []


CHAT_TITLE = Line("Telegram Web", (420, 150, 300, 16), 88.0)
CHAT_BODY = [Line("Telegram Web", (420, 150, 300, 16), 85.0),
             Line("Иван Петров: ответ на четвёртый вопрос — 17", (420, 220, 420, 18), 90.0)]
CHAT_BOX: Box = (400, 140, 560, 360)


def test_a_window_raised_twice_at_the_same_place_is_two_switches() -> None:
    # what a raised window showed is its own, not the page's: the second time it is new again
    log = _Log().exam()
    log.window(10.0, CHAT_BOX, [CHAT_TITLE], body=CHAT_BODY)
    log.log.gone(18.0, 100)
    log.window(30.0, CHAT_BOX, [CHAT_TITLE], body=CHAT_BODY)
    log.log.gone(38.0, 300)
    switches = log.switches()
    assert [(s["start_s"], s["end_s"], s["details"]["title"]) for s in switches] == [
        (10.0, 18.0, "Telegram Web"), (30.0, 38.0, "Telegram Web")]


def test_a_window_named_like_a_toast_seen_elsewhere_is_a_switch() -> None:
    # a toast "Telegram" at the top right, gone; then the Telegram window raised elsewhere
    log = _Log().exam()
    log.read(5.0, (900, 48, 360, 80), Line("Telegram", (912, 58, 90, 16), 90.0),
             Line("Иван Петров: ответ на четвёртый вопрос", (912, 84, 330, 16), 88.0))
    log.read(11.0, (900, 48, 360, 80))
    log.window(20.0, CHAT_BOX, [CHAT_TITLE], body=CHAT_BODY)
    log.log.gone(28.0, 200)
    [switch] = log.switches()
    assert (switch["start_s"], switch["end_s"], switch["details"]["title"]) == (20.0, 28.0, "Telegram Web")
