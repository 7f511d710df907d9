"""The text on screen over time, replayed from the tracker's log once the OCR results are in.

:class:`TextLog` is what :class:`~screen_text.TextTracker` writes while it decodes: regions read
(with the OCR crop id, or None for a region that turned flat), title-bar reads, screens
remembered and recalled, blank stretches. :func:`replay` walks it with the OCR results and keeps
the visible lines and the window title, giving

- ``contexts``: ``[(t, Foreground or None)]``: the window in front from ``t`` on (None while the
  screen is blank): the latest of the title at the top of the screen (a maximised window, the
  browser tab shown) and the windows raised over part of it that are still there. A raised
  window is named by its own title bar, or, without one, by its topmost line of text; one whose
  title is a line the screen already showed (a page's own header) or whose text is mostly words
  the screen already showed (the exam page itself) is no window. An illegible title is no
  evidence of a switch and is skipped.
- ``matches``: deny-list terms on screen, each ``{term, category, start_s, end_s, text, box}``,
  from the time its region changed to show it until the time its region changed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.screencast.foreground import Foreground, FrontMixin, RaisedWindow, joined
from handlers.screencast.matching import Matcher, Term
from handlers.screencast.ocr import Box, Line

__all__ = ["Foreground", "TextLog", "replay"]




class TextLog:
    """An append-only record of the tracker's decisions, in time order."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self._screens = 0

    def read(self, t: float, box: Box, crop: int | None) -> None:
        self.entries.append(("read", t, box, crop))

    def title(self, t: float, crop: int, how: str = "title_bar", strip: Box | None = None) -> None:
        """The title at the top of the screen was read (``strip``: the browser tab strip it is in)."""
        self.entries.append(("title", t, crop, how, strip))

    def window(self, t: float, box: Box, key: int, crops: list[int], text_ok: bool = True) -> None:
        """A window appeared over ``box`` at ``t``; ``crops``: reads of the title bars that may be its;
        ``text_ok``: without a legible one, it may be named by its text."""
        self.entries.append(("window", t, box, key, crops, text_ok))

    def gone(self, t: float, key: int) -> None:
        """Window ``key`` left: what was under it shows again."""
        self.entries.append(("gone", t, key))

    def settle(self, t: float) -> None:
        """A group of reads is complete: match the deny-list against what is now visible."""
        self.entries.append(("settle", t))

    def blank(self, t: float) -> None:
        self.entries.append(("blank", t))

    def shift(self, t: float, band: tuple[int, int], dy: int) -> None:
        """Rows ``band`` (frame pixels) scrolled: content at y is now at y - dy."""
        self.entries.append(("shift", t, band, dy))

    def remember(self) -> int:
        """Snapshot the visible text as a screen; return its key for :meth:`recall`."""
        self._screens += 1
        self.entries.append(("remember", self._screens))
        return self._screens

    def recall(self, t: float, key: int) -> None:
        self.entries.append(("recall", t, key))


@dataclass
class _Open:
    term: Term
    start: float
    line: Line


@dataclass
class _State(FrontMixin):
    matcher: Matcher
    results: dict[int, list[Line]]
    lines: list[Line] = field(default_factory=list)
    title: Line | None = None
    title_how: str = "title_bar"
    title_t: float = 0.0
    strip: Box | None = None  # the browser's tab strip: the other tabs' titles are not on show
    read_title: tuple[Line | None, str] = (None, "title_bar")
    windows: list[RaisedWindow] = field(default_factory=list)
    front: Foreground | None = None
    memory: dict[int, tuple[list[Line], tuple[Line | None, str]]] = field(default_factory=dict)
    open: dict[str, _Open] = field(default_factory=dict)
    contexts: list[tuple[float, Foreground | None]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[Line, float] = field(default_factory=dict)  # line -> when it appeared
    places: dict[tuple[str, int, int], Line] = field(default_factory=dict)  # the page's lines, where shown
    gone: dict[Line, float] = field(default_factory=dict)  # line -> when its region changed

    def read(self, t: float, box: Box, crop: int | None) -> None:
        kept = []
        for line in self.lines:
            if _overlap(line.box, box):
                self.gone.setdefault(line, t)
            else:
                kept.append(line)
        self.lines = kept + self._shown(t, self.results.get(crop, []) if crop is not None else [])

    def shift(self, t: float, band: tuple[int, int], dy: int) -> None:
        y0, y1 = band
        kept = []
        for line in self.lines:
            x, y, w, h = line.box
            if not y0 <= y + h / 2 < y1:
                kept.append(line)
            elif y0 <= y - dy and y - dy + h <= y1:
                moved = Line(line.text, (x, y - dy, w, h), line.conf)
                self.shown[moved] = self.shown.get(line, t)
                self._follow(line, moved)
                kept.append(moved)
                self.keep_places([moved])
            else:
                self.gone.setdefault(line, t)
        self.lines = kept

    def _follow(self, old: Line, new: Line) -> None:
        """An open match keeps going when its line only moved."""
        for item in self.open.values():
            if item.line == old:
                item.line = new

    def _shown(self, t: float, lines: list[Line]) -> list[Line]:
        for line in lines:
            self.shown[line] = t
        self.keep_places(lines)
        return list(lines)

    # --- screens, matching, blanks -----------------------------------------------------------------

    def remember(self, key: int) -> None:
        self.memory[key] = (list(self.lines), self.read_title)

    def recall(self, t: float, key: int) -> None:
        lines, title = self.memory[key]
        for line in self.lines:
            self.gone.setdefault(line, t)
        self.lines = self._shown(t, lines)
        self.windows = []
        self.set_title(t, *title)
        self._front(t)
        self.settle(t)

    def settle(self, t: float) -> None:
        self.read_title = (None, "title_bar")
        self._name_windows()
        present: dict[str, tuple[Term, Line]] = {}
        titles = [w.line for w in self.windows if w.how == "window_title_bar"]
        shown = [ln for ln in self.lines if self.strip is None or not _overlap(ln.box, self.strip)]
        for line in ([self.title] if self.title else []) + titles + shown:  # not the tabs not shown
            for term in self.matcher.denied(line.text):
                present.setdefault(term.text, (term, line))
        for key in [k for k in self.open if k not in present]:
            self.close(key, self.gone.get(self.open[key].line, t))
        for key, (term, line) in present.items():
            self.open.setdefault(key, _Open(term, self.shown.get(line, t), line))
        self.gone = {}
        visible = set(self.lines) | ({self.title} if self.title else set()) | set(titles)
        self.shown = {k: v for k, v in self.shown.items() if k in visible}

    def blank(self, t: float) -> None:
        for key in list(self.open):
            self.close(key, t)
        self.lines, self.windows = [], []
        if self.front is not None or not self.contexts:
            self.contexts.append((t, None))
        self.title, self.front = None, None

    def close(self, key: str, end: float) -> None:
        item = self.open.pop(key)
        self.matches.append({"term": item.term.text, "category": item.term.category, "start_s": item.start,
                             "end_s": max(end, item.start), "text": item.line.text, "box": list(item.line.box)})


def replay(log: TextLog, results: dict[int, list[Line]], matcher: Matcher,
           end: float) -> tuple[list[tuple[float, Foreground | None]], list[dict[str, Any]]]:
    """Walk the log with the OCR results; return ``(contexts, matches)``."""
    state = _State(matcher, results)
    handlers = {"read": state.read, "title": state.title_read, "settle": state.settle, "blank": state.blank,
                "remember": state.remember, "recall": state.recall, "shift": state.shift,
                "window": state.window, "gone": state.gone_window}
    for kind, *args in log.entries:
        handlers[kind](*args)
    for key in list(state.open):
        state.close(key, end)
    return state.contexts, state.matches


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
