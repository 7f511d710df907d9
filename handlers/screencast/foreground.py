"""The window in front over time: the title at the top of the screen and windows raised over it.

:class:`FrontMixin` is the part of :func:`timeline.replay`'s state that follows the foreground:
the latest of the title bar at the top of the screen (a maximised window, the browser tab shown)
and the windows raised over part of the screen that are still there. A raised window is named by
its own title bar, or, without one, by its topmost line of text. What is no window: a region
whose own title bar names the window in front (that window restored, moved or resized); one
whose title is a line on screen or a line the page showed at that same place before (its own
header: partial re-reads may have dropped it from view, or another tab was shown meanwhile;
:attr:`FrontMixin.places` remembers the page's lines, not those of raised windows); one whose
text is mostly words the screen already showed (the exam page itself). Each change of the window
in front is appended to ``contexts`` as ``(t, Foreground)``. A re-read of the same title (the
exam's tab strip repainted when it loses or regains focus) is no change.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from handlers.screencast.matching import fold_tokens, within_edits
from handlers.screencast.ocr import Box, Line

__all__ = ["Foreground", "FrontMixin", "RaisedWindow", "joined", "legible", "same_window"]

logger = logging.getLogger(__name__)

_MIN_TITLE_CONF = 50.0
_SAME_WINDOW = 0.75  # name similarity within one window (its pages, its re-reads)
_SEEN_WORDS = 0.5  # a raised region whose words are mostly on screen already is the same page
_SEEN_TITLE = 0.8  # similarity of a band's text to a line already on screen: the page's header
_PLACES = 4000  # lines remembered where the page showed them


@dataclass(frozen=True)
class Foreground:
    """The window in front: its name (``line``), how it was recognised, and where."""

    line: Line
    how: str  # title_bar | browser_tab | top_band | window_title_bar | window_text
    box: Box


@dataclass
class RaisedWindow:
    """A window raised over part of the screen; ``line`` names it (None until known)."""

    key: int
    t: float
    box: Box
    line: Line | None
    how: str
    under: list[Line]
    words: set[str]

    def covers(self, box: Box) -> bool:
        """``box`` is part of this window: in its region or its title bar (which may lie above
        the region, for a window seen only by its text), or between them."""
        area = self.box if self.line is None else _union(self.box, self.line.box)
        return inside(box, area)


class FrontMixin:
    """Foreground bookkeeping of the replay state (which holds ``lines``, ``title``, ``windows``, ...;
    ``places``: the page's lines by where they were shown, most recent last)."""

    def title_read(self, t: float, crop: int, how: str = "title_bar", strip: Box | None = None) -> None:
        self.strip = strip if how == "browser_tab" else None
        self.read_title = (title_line(self.results.get(crop, [])), how)
        self.set_title(t, *self.read_title)

    def set_title(self, t: float, line: Line | None, how: str = "title_bar") -> None:
        logger.debug("t=%.1f title %s (%s)", t, line, how)
        if not legible(line):
            return
        if self.title is None or self.title.text != line.text:
            self.shown[line] = t
            if self.title is not None:
                self.gone.setdefault(self.title, t)
            if self.title is None or not same_window(self.title.text, line.text):
                self.title_t = t  # a re-read of the same title (focus moved, repainted) is not news
        self.title, self.title_how = line, how
        self._front(t)

    def window(self, t: float, box: Box, key: int, crops: list[int], text_ok: bool = True) -> None:
        visible = self.lines + ([self.title] if self.title else [])
        reads = [title_line(self.results.get(c, [])) for c in crops]
        if reads and legible(reads[0]) and self.title is not None and same_window(reads[0].text, self.title.text):
            logger.debug("window %d at %.1f: its title bar names the window in front (%s)", key, t, reads[0])
            return  # the window in front itself, restored, moved or resized
        titles = [ln for ln in reads if legible(ln)]
        fresh = [ln for ln in titles if not self._known(ln, visible)]
        logger.debug("window %d at %.1f: titles %s, new %s", key, t, titles, fresh)
        if (titles and not fresh) or (not fresh and not text_ok):
            return  # bands the page showed (its own header), or nothing to name it
        named = fresh[0] if fresh else None
        under = [ln for ln in self.lines if overlap(ln.box, box)]
        words = {w for ln in visible for w in fold_tokens(ln.text)}
        self.windows.append(RaisedWindow(key, t, box, named, "window_title_bar" if named else "window_text",
                                         under, words))
        if named is not None:
            self._front(t)

    def keep_places(self, lines: list[Line]) -> None:
        """Remember where the page showed ``lines`` (a raised window's own lines are not the page's)."""
        for line in lines:
            if any(w.covers(line.box) for w in self.windows):
                continue
            key = (line.text, line.box[0] // 16, line.box[1] // 8)
            self.places.pop(key, None)
            self.places[key] = line
        while len(self.places) > _PLACES:
            del self.places[next(iter(self.places))]

    def _known(self, band: Line, visible: list[Line]) -> bool:
        """A band's text is a line on screen, or one the page showed at the same place."""
        return (any(_seen(band.text, line.text) for line in visible)
                or any(_same_place(band.box, line.box) and _seen(band.text, line.text)
                       for line in self.places.values()))

    def gone_window(self, t: float, key: int) -> None:
        found = next((w for w in self.windows if w.key == key), None)
        if found is None:
            return
        self.windows.remove(found)
        for line in [ln for ln in self.lines if overlap(ln.box, found.box)] + [found.line]:
            self.gone.setdefault(line, t)
            if line in self.lines:
                self.lines.remove(line)
        self.lines += self._shown(t, found.under)
        self._front(t)
        self.settle(t)

    def _name_windows(self) -> None:
        """Windows without a title bar are named by their topmost line, unless it is the same page."""
        for item in [w for w in self.windows if w.line is None]:
            within = sorted((ln for ln in self.lines if inside(ln.box, item.box) and legible(ln)),
                            key=lambda ln: (ln.box[1], ln.box[0]))
            words = [w for ln in within for w in fold_tokens(ln.text)]
            if not within or sum(w in item.words for w in words) >= _SEEN_WORDS * len(words):
                self.windows.remove(item)
                continue
            item.line = within[0]
            self._front(item.t)

    def _front(self, t: float) -> None:
        options = [(w.t, 1, Foreground(w.line, w.how, w.box)) for w in self.windows if w.line is not None]
        if self.title is not None:
            options.append((self.title_t, 0, Foreground(self.title, self.title_how, self.title.box)))
        if not options:
            return
        front = max(options, key=lambda o: (o[0], o[1]))[2]
        if self.front is None or (front.line.text, front.how) != (self.front.line.text, self.front.how):
            self.contexts.append((t, front))
        self.front = front


_ICON = re.compile(r"^[^\w(«\"']+|^[a-z]{1,2} (?=[A-ZА-ЯЁ])")  # a window icon read as letters or marks


def title_line(lines: list[Line]) -> Line | None:
    """The lines read from a title bar as one, without what its window icon was read as."""
    if not lines:
        return None
    line = joined(lines)
    text = _ICON.sub("", _ICON.sub("", line.text)).strip()
    return Line(text, line.box, line.conf) if text else None


def joined(lines: list[Line]) -> Line:
    x0, y0 = min(ln.box[0] for ln in lines), min(ln.box[1] for ln in lines)
    x1 = max(ln.box[0] + ln.box[2] for ln in lines)
    y1 = max(ln.box[1] + ln.box[3] for ln in lines)
    ordered = sorted(lines, key=lambda ln: (ln.box[1], ln.box[0]))
    return Line(" ".join(ln.text for ln in ordered), (x0, y0, x1 - x0, y1 - y0), min(ln.conf for ln in lines))


def legible(line: Line | None) -> bool:
    return line is not None and line.conf >= _MIN_TITLE_CONF and len(re.sub(r"\W", "", line.text)) >= 4


def same_window(a: str, b: str) -> bool:
    """Similar names, or one name's words (two or more) all in the other: a title cut short."""
    a, b = " ".join(fold_tokens(a)), " ".join(fold_tokens(b))
    if SequenceMatcher(None, a, b).ratio() >= _SAME_WINDOW:
        return True
    short, long = sorted((a.split(), b.split()), key=len)
    return len(short) >= 2 and sum(w in long for w in short) >= _SAME_WINDOW * len(short) + 0.5


def _seen(band: str, line: str) -> bool:
    """A band's text is (part of) a line the screen showed: similar, or most of its words (3+
    letters) pieces of the line's words (``Остал`` of ``Осталось 0:44:35``, a ticking timer)."""
    if similar(band, line) >= _SEEN_TITLE or same_window(band, line):
        return True
    words, shown = [w for w in fold_tokens(band) if len(w) >= 3], fold_tokens(line)
    return bool(words) and sum(any(_piece(w, v) for v in shown) for w in words) >= 0.6 * len(words)


def _piece(word: str, shown: str) -> bool:
    """``word`` is in ``shown``, or is its beginning read with an OCR error or two."""
    return word in shown or (len(shown) >= len(word) and within_edits(word, shown[:len(word)], max(1, len(word) // 3)))


def similar(a: str, b: str) -> float:
    return SequenceMatcher(None, " ".join(fold_tokens(a)), " ".join(fold_tokens(b))).ratio()


def _same_place(a: Box, b: Box) -> bool:
    """Two text boxes on one row (centres within half a line) overlapping over half the shorter."""
    if abs((a[1] + a[3] / 2) - (b[1] + b[3] / 2)) > max(a[3], b[3]) / 2:
        return False
    return min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) >= 0.5 * min(a[2], b[2])


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    return x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0


def inside(a: Box, b: Box) -> bool:
    """The centre of ``a`` lies in ``b``."""
    cx, cy = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= cx < b[0] + b[2] and b[1] <= cy < b[1] + b[3]


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
