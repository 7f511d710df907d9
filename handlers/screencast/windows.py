"""Windows on screen: sudden large changes, title bars wherever they are, the active browser tab.

Pure functions on the grey frame (full size) and its 1/4 thumbnail, no OCR:

- :func:`sudden_change`: the bounding box (thumbnail pixels) of the largest region that changed
  between two samples, if it is at least ``min_share`` of the content area: a window raised or
  the screen replaced. Typing, a cursor, a ticking timer, a tooltip or a toast are far smaller.
- :func:`title_band`: the title bar at the top of a region, found by its look, not its place: a
  band 12-48 px high whose rows are each one colour (a gradient is fine) apart from sparse text,
  holding one line of text, and set off by an edge right after that line (the window's body,
  menu or toolbar starts). Page text on a plain background has no such edge, so a scrolled or
  changed page mostly has none; a page's own coloured header has, which is why a band's text is
  also checked against what the exam showed (see :mod:`screen_text`).
- :func:`active_tab`: in a browser's tab strip (a band whose lower edge meets a toolbar), the
  columns of the tab drawn in the toolbar's colour, which is how browsers mark the tab shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from handlers.screencast.changes import SHRINK
from handlers.screencast.ocr import Box

__all__ = ["Raised", "RaisedWindows", "active_tab", "find_title_bands", "sudden_change", "title_band", "title_text_box", "to_frame"]

_SOLID = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))  # thumbnail pixels: thinner is not a block
_MERGE = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))  # thumbnail pixels: parts of one window
_GAPS = cv2.getStructuringElement(cv2.MORPH_RECT, (1, 7))  # frame pixels: a border behind which the page matched
_BAND_MIN, _BAND_MAX = 12, 48  # title bar / tab strip height, frame pixels
_ROW_EDGE = 7.0  # grey levels: the band's lower edge
_UNIFORM = 0.5  # share of a band row at its row colour (the rest is text)
_LEVEL = 12  # grey levels around the row colour that count as background
THIN_TITLE_SHARE = 0.25  # a window seen only by its text needs a title bar this share of the width


def sudden_change(motion: np.ndarray, box: Box, min_share: float,
                  frames: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Box, bool] | None:
    """``((x, y, w, h), solid)`` in thumbnail pixels of the largest region that changed, if big enough.

    Thin changes (text, a focus ring, the cursor) are opened away first, so the region is what
    changed as a block (a window's title bar and body; ``solid``); its height is then taken from
    every change below that block's top within its columns, as long as the changed rows go on (a
    cursor or a toast further down is not part of it), or from the window's side borders in the
    full frames ``(now, before)`` when they go further (a white window over a white page changes
    little inside, but its 1-px frame changes all the way down). Without such a block (a dark
    window over a dark page changes only where text differs) the region of all changes, if at
    least half ``min_share``, is given, not ``solid``: it is a window only if a title bar at
    least a quarter of the screen wide is found at its top (:data:`THIN_TITLE_SHARE`).
    """
    x, y, w, h = box
    if np.count_nonzero(motion[y:y + h, x:x + w]) < 0.01 * w * h:
        return None  # most samples: a cursor, a timer, a few typed letters
    mask = np.zeros(motion.shape, np.uint8)
    mask[y:y + h, x:x + w] = motion[y:y + h, x:x + w]
    solid = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _SOLID)
    block = _largest(solid)
    if block is not None:
        x0, y0, x1, y1 = block
        y1 = max(y1, y0 + _rows_down(mask[y0:, x0:x1]))
        if frames is not None:
            y1 = max(y1, y0 + -(-_side_height(*frames, x0 * SHRINK, x1 * SHRINK, y0 * SHRINK) // SHRINK))
        if (x1 - x0) * (y1 - y0) >= min_share * w * h:
            return (x0, y0, x1 - x0, y1 - y0), True
    spread = _largest(mask)
    if spread is not None:
        x0, y0, x1, y1 = spread
        if (x1 - x0) * (y1 - y0) >= 0.5 * min_share * w * h:
            return (x0, y0, x1 - x0, y1 - y0), False
    return None


def _largest(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` of the set pixels of the largest group (by its box) in ``mask``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, _MERGE))
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, 2] * stats[1:, 3]))
    ys, xs = np.nonzero((labels == best) & (mask > 0))
    if not len(xs):
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _side_height(now: np.ndarray, before: np.ndarray, x0: int, x1: int, y0: int, near: int = 12) -> int:
    """Frame pixels: the longest run down from ``y0`` of changed pixels in one column near either
    side (``x0``, ``x1``) of a block that just appeared: the window's side border."""
    fh, fw = now.shape
    best = 0
    for lo, hi in ((max(0, x0 - near), min(fw, x0 + near)), (max(0, x1 - near), min(fw, x1 + near))):
        if hi <= lo or y0 >= fh:
            continue
        changed = cv2.absdiff(now[y0:, lo:hi], before[y0:, lo:hi]) > 24
        changed = cv2.morphologyEx(changed.view(np.uint8), cv2.MORPH_CLOSE, _GAPS) > 0
        for column in changed.T:
            top = np.flatnonzero(column[:_BAND_MAX])  # the border starts at the title bar
            if top.size:
                rest = column[top[0]:]
                run = int(np.argmin(rest)) if not rest.all() else rest.size
                best = max(best, int(top[0]) + run)
    return best


def _rows_down(mask: np.ndarray, fill: float = 0.02, gap: int = 16) -> int:
    """How far the changed rows go on from the top of ``mask`` (gaps up to ``gap`` rows)."""
    last, missing = 0, 0
    for i, changed in enumerate(mask.mean(axis=1) > fill):
        if changed:
            last, missing = i + 1, 0
        else:
            missing += 1
            if missing > gap:
                break
    return last


def _row_profile(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: its background level (median) and the share of its pixels at that level."""
    level = np.median(band, axis=1)
    share = (np.abs(band.astype(np.int16) - level[:, None]) <= _LEVEL).mean(axis=1)
    return level, share


def title_band(frame: np.ndarray, region: Box, search: int = 10) -> Box | None:
    """The title bar at the top of ``region`` (frame pixels), or None when it has none."""
    x, y, w, h = region
    fh, fw = frame.shape
    x0, x1 = max(0, x), min(fw, x + w)
    top = max(0, y - search - 1)  # one row above the first possible start, to see its edge
    rows = frame[top:min(fh, y + search + _BAND_MAX + 4), x0:x1]
    if x1 - x0 < 64 or rows.shape[0] < _BAND_MIN + 4:
        return None
    level, share = _row_profile(rows)
    ink = (np.abs(rows.astype(np.int16) - level[:, None]) > 40).mean(axis=1)
    for start in range(0 if top == 0 else 1, min(2 * search + 2, rows.shape[0] - _BAND_MIN)):
        if top + start > 0 and abs(level[start] - level[start - 1]) < _ROW_EDGE:
            continue  # a band starts at an edge (or at the top of the screen)
        end = _band_end(level, share, ink, start)
        if end is None:
            continue
        ground = float(np.median(level[start:end]))
        if top + start == 0 or abs(ground - float(np.median(level[max(0, start - 3):start]))) >= _ROW_EDGE:
            return x0, top + start, x1 - x0, end - start  # set off from what is above it, too
    return None


def _band_end(level: np.ndarray, share: np.ndarray, ink: np.ndarray, start: int) -> int | None:
    """Where a band from ``start`` ends: the first edge after its one line of text."""
    limit = min(start + _BAND_MAX, len(level) - 2)
    text = np.flatnonzero(ink[start:limit] > 0.01) + start
    if len(text) < 5 or text[0] - start > _BAND_MAX // 2 or ink[start:limit].max() >= 0.8:
        return None
    gaps = np.flatnonzero(np.diff(text) > 3)
    last = int(text[gaps[0]] if len(gaps) else text[-1])  # the end of the first line of text
    for end in range(max(last + 1, start + _BAND_MIN), limit + 1):
        below = level[end:end + 2]
        if np.all(np.abs(below - level[end - 1]) >= _ROW_EDGE) and abs(float(below[0] - below[1])) < _ROW_EDGE:
            return end if (share[start:end] >= _UNIFORM).mean() >= 0.6 else None
    return None


def find_title_bands(frame: np.ndarray, region: Box, above: int = 240, most: int = 3) -> list[Box]:
    """Title bars for a window that appeared over ``region``, nearest first (at most ``most``):
    the one at its top, then those whose top edge (a horizontal edge at least 12 % of the screen
    wide, whatever ``region``'s columns) lies up to ``above`` pixels above it. Over a page of its
    own colour a window changes only where text differs, so the changed region may start at its
    first line of text and be wider than the window; a page's own header found on the way is
    told apart later by its text (the screen showed it before)."""
    found = []
    band = title_band(frame, region)
    if band is not None:
        found.append(band)
    x, y, w, h = region
    fh, fw = frame.shape
    for top in range(min(fh - _BAND_MIN, y + 24) - 1, max(1, y - above) - 1, -1):
        if len(found) >= most:
            break
        edge = np.abs(frame[top].astype(np.int16) - frame[top - 1]) >= _ROW_EDGE
        for start, end in _runs(edge, int(0.12 * fw)):
            band = title_band(frame, (start, top, end - start, h), search=2)
            if band is not None and not any(_overlap(band, f) for f in found):
                found.append(band)
    return found[:most]


def _runs(flags: np.ndarray, min_len: int, gap: int = 3) -> list[tuple[int, int]]:
    """``(start, end)`` of the runs of set flags at least ``min_len`` long, gaps up to ``gap`` bridged."""
    closed = cv2.morphologyEx(flags.view(np.uint8)[None, :], cv2.MORPH_CLOSE,
                              np.ones((1, 2 * gap + 1), np.uint8)).ravel()
    edges = np.flatnonzero(np.diff(np.concatenate(([0], closed, [0]))))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def active_tab(frame: np.ndarray, band: Box) -> Box:
    """The part of ``band`` drawn in the colour of the row below it (the tab shown), or the band."""
    x, y, w, h = band
    fh = frame.shape[0]
    if y + h + 3 > fh:
        return band
    below = float(np.median(frame[y + h + 1:y + h + 3, x:x + w]))
    bottom = frame[y + h - 4:y + h - 1, x:x + w].astype(np.int16).mean(axis=0)
    strip = float(np.median(bottom))
    if abs(strip - below) < _ROW_EDGE:
        return band  # the band's ground is the toolbar's: not a tab strip
    same = np.abs(bottom - below) <= 4
    runs = np.flatnonzero(np.diff(np.concatenate(([0], same.view(np.int8), [0]))))
    starts, ends = runs[::2], runs[1::2]
    if not len(starts):
        return band
    i = int(np.argmax(ends - starts))
    if ends[i] - starts[i] < 80 or ends[i] - starts[i] > 0.7 * w:
        return band
    trim = min(int(0.75 * h), (int(ends[i] - starts[i]) - 40) // 2)  # the tab's icon and close button
    return x + int(starts[i]) + trim, y, int(ends[i] - starts[i]) - 2 * trim, h


def title_text_box(band: Box) -> Box:
    """A title bar without its buttons (right; the text may start anywhere left of them)."""
    x, y, w, h = band
    right = int(3.5 * h)
    return (x, y, w - right, h) if w - right >= 4 * h else band


def to_frame(box: Box) -> Box:
    """A thumbnail box in frame pixels."""
    return tuple(v * SHRINK for v in box)  # type: ignore[return-value]


@dataclass(eq=False)
class Raised:
    """A window that appeared suddenly over part of the screen (``box`` in thumbnail pixels)."""

    key: int
    box: Box
    under: np.ndarray  # the thumbnail there before it appeared (what was last read)
    since: float
    solid: bool = True  # it changed as a block (else only a title bar found at its top makes it a window)
    changed: np.ndarray | None = None  # the thumbnail pixels that changed when it appeared
    before: np.ndarray | None = None  # a thin one: the whole thumbnail last read before it appeared
    read: bool = False


class RaisedWindows:
    """Windows raised over part of the screen: found when they appear, dropped when they go.

    A sudden change narrower than the screen, of at least
    ``min_share`` of the content is a candidate; it is read once its region settles (the
    tracker's reads), and it is gone when its region shows what was under it again (the exam
    brought back to the front, or a glimpse shorter than the settle time).
    """

    def __init__(self, min_share: float, back_share: float = 0.08) -> None:
        self.min_share, self.back_share = min_share, back_share
        self.pending: list[Raised] = []
        self.open: list[Raised] = []
        self._keys = 0
        self._box: Box | None = None
        self.restored = False  # a window left in the last sample and what it hid is back

    def changed(self, t: float, motion: np.ndarray, box: Box, ref: np.ndarray,
                frames: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Take one sample's motion mask (and the full frames now and before); a new window
        candidate when something big appeared."""
        if box != self._box:  # the shared area changed shape: a resolution change, not a window
            self._box = box
            return
        change = sudden_change(motion, box, self.min_share, frames)
        if change is None:
            return
        found, solid = change
        x, y, w, h = found
        if w >= 0.9 * box[2]:
            return  # as wide as the screen: a maximised window, a tab, a page, read from the top band
        self.pending = [p for p in self.pending if not _overlap(p.box, found)]
        self._keys += 1
        self.pending.append(Raised(self._keys, found, ref[y:y + h, x:x + w].copy(), t, solid,
                                   motion[y:y + h, x:x + w].copy(), None if solid else ref.copy()))

    def back(self, small: np.ndarray, threshold: int) -> list[Raised]:
        """Remove and return the windows whose region shows what was under them again."""
        gone = [r for r in [*self.pending, *self.open] if _shows(small, r, threshold, self.back_share)]
        self.pending = [p for p in self.pending if p not in gone]
        self.open = [o for o in self.open if o not in gone]
        return gone

    def due(self, jobs: list[Box]) -> list[Raised]:
        """Pending windows that a read touches now: they are read (and open) from here on."""
        due = [p for p in self.pending if any(_overlap(p.box, j) for j in jobs)]
        self.pending = [p for p in self.pending if p not in due]
        for item in due:
            item.read = True
        self.open += due
        return due


def _shows(small: np.ndarray, item: Raised, threshold: int, share: float) -> bool:
    """The region shows what was under it again: where it changed when the window came, it no
    longer differs (a dark window over a dark page differs only where its text is)."""
    x, y, w, h = item.box
    now = small[y:y + h, x:x + w]
    if now.shape != item.under.shape:
        return False
    differs = cv2.absdiff(now, item.under) > threshold
    if item.changed is not None and item.changed.shape == differs.shape and item.changed.any():
        return np.count_nonzero(differs & item.changed) <= 2.5 * share * np.count_nonzero(item.changed)
    return np.count_nonzero(differs) <= share * now.size


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
