"""Scrolling: the part of a screen that shows what it showed before, moved up or down.

:func:`vertical_shift` compares a thumbnail with the one last read, row by row, for every
vertical shift up to a third of the height, and returns the shift that explains the most changed
(inked) rows. The text tracker then moves what it had read with the page instead of reading the
page again, and reads only the rows scrolled into view.
"""

from __future__ import annotations

import cv2
import numpy as np

from handlers.screencast.ocr import Box

__all__ = ["scrolled_reference", "vertical_shift"]

_FLAT_STD = 3.0  # grey-level spread of a row with nothing on it
_SCROLL_MIN_ROWS = 6  # shrunk rows a scroll must explain


def vertical_shift(cur: np.ndarray, ref: np.ndarray, threshold: int) -> tuple[int, int, int] | None:
    """``(dy, y0, y1)``: rows y0..y1 of ``cur`` show ``ref`` moved up by ``dy`` rows; or None."""
    cur, ref = cur.astype(np.int16), ref.astype(np.int16)
    h, w = cur.shape
    inked = cur.std(axis=1) > _FLAT_STD  # blank rows match any shift: they prove nothing
    tolerance = 0.02 * w  # pixels per row that may differ anyway (cursor, caret)
    changed = ((np.abs(cur - ref) > threshold).sum(axis=1) > tolerance) & inked
    best, best_rows, best_count = 0, np.zeros(h, bool), 0
    for dy in range(-(h // 3), h // 3 + 1):
        if dy == 0:
            continue
        rows = np.zeros(h, bool)  # rows r with cur[r] == ref[r + dy]
        a, b = (cur[:h - dy], ref[dy:]) if dy > 0 else (cur[-dy:], ref[:h + dy])
        rows[max(0, -dy):h - max(0, dy)] = (np.abs(a - b) > threshold).sum(axis=1) <= tolerance
        count = int(np.count_nonzero(rows & changed))
        if count > best_count:
            best, best_rows, best_count = dy, rows, count
    if best_count < max(_SCROLL_MIN_ROWS, 0.3 * np.count_nonzero(changed)):
        return None
    moved = np.flatnonzero(best_rows & changed)
    return best, int(moved[0]), int(moved[-1]) + 1


def scrolled_reference(small: np.ndarray, ref: np.ndarray, box: Box,
                       threshold: int) -> tuple[tuple[int, int], int, np.ndarray] | None:
    """``((y0, y1), dy, band)``: rows y0..y1 (thumbnail) of ``box`` scrolled by ``dy``; ``band`` is
    the reference for those rows moved with them. None when no shift explains most of the change."""
    x, y, w, h = box
    found = vertical_shift(small[y:y + h, x:x + w], ref[y:y + h, x:x + w], threshold)
    if found is None:
        return None
    dy, y0, y1 = found
    source = np.arange(y0, y1) + dy
    inside = (source >= y0) & (source < y1)  # rows whose content was on screen before
    if not inside.any():
        return None
    rows = np.s_[y + y0:y + y1, x:x + w]
    band = ref[rows].copy()
    band[inside] = ref[y + source[inside], x:x + w]
    now = small[rows][inside]
    before = np.count_nonzero(cv2.absdiff(now, ref[rows][inside]) > threshold)
    if np.count_nonzero(cv2.absdiff(now, band[inside]) > threshold) > 0.5 * before:
        return None  # the shift does not explain most of the change
    return (y + y0, y + y1), dy, band
