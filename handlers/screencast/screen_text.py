"""Deciding what text to read and when: only where the screen changed, once it has settled.

:class:`TextTracker` keeps a reference thumbnail of what was last read. Each sample, pixels that
differ from it are *dirty*; dirty pixels are grouped into regions (dilated connected components).
A region is queued for OCR when it is big enough to hold a word (``min_region``) and has
*settled* (at most a resting cursor's worth of its pixels changed within ``settle_s``), or when
its pixels have kept changing for ``force_s`` (a video, continuous typing; repeated forced reads
of one place back off exponentially). A cursor or a ticking timer is too small to be read; text
typed into a box is read once the typing pauses; a region that turned flat is cleared unread.

When settled regions span half the content area in several places (a window switch, a new page)
the whole content area is one read. Before any read, past screens are recalled: a screen seen
before (the exam page after a trip to another window) reuses its text, and only what differs is
read again. Changes that are part of the screen moving vertically (scrolling) move what was read
with them; only the rows scrolled into view are read. Whenever a read touches the top of the
screen, its title bar (found by its look: :func:`windows.title_band`; in a browser, the tab
shown) is also read on its own: it names the window. A window raised over part of the screen
(a sudden change of at least ``window_min_share`` of it, not the whole width) is followed on its
own (:class:`windows.RaisedWindows`): its title bar, wherever it is, is read when its region is,
and when its region shows again what was under it, the window is gone and that is not read again.
A window seen only by its text (a dark one over a page of its colour) has its title bar above
that text; a bar there whose text was already on screen (the page's own header) is not its.

OCR runs in batches later (see :mod:`ocr`), so the tracker writes a :class:`~timeline.TextLog`
of what it read, recalled or blanked and when; :func:`timeline.replay` turns the log and the OCR
results into window titles and deny-list matches over time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from handlers.screencast.changes import SHRINK
from handlers.screencast.ocr import Box, Ocr
from handlers.screencast.scrolling import scrolled_reference
from handlers.screencast.timeline import TextLog
from handlers.screencast.windows import (THIN_TITLE_SHARE, Raised, RaisedWindows, active_tab, find_title_bands, title_band, title_text_box,
                                         to_frame)

__all__ = ["TextTracker"]

_FULL_SHARE = 0.5  # settled regions spanning this share of the content ...
_WHOLE_JOBS = 4  # ... in at least this many places: a new screen, read whole
_RECALL_SHARE = 0.02  # a remembered screen matches when at most this share of pixels differs
_MEMORY = 32
_TITLE_SHARE = 0.055  # the title bar: this top share of the content area
_STILL_PX = 8  # shrunk pixels of a region that may still change (a cursor resting on it)
_FORCE_MAX_S = 120.0
_FLAT_STD = 3.0  # grey-level spread of a region with nothing to read
_SCROLL_SHARE = 0.05  # changes over this share of the content: try explaining them as a scroll
_DILATE = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 3))
_NEW_TITLE = 0.2  # a thin window's title bar: this share of its text new since the last read (real: 0.39-1.0; the page's header: 0-0.03)

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Screen:
    thumb: np.ndarray
    key: int


class TextTracker:
    """Queues OCR of changed, settled regions and logs what the screen showed when."""

    def __init__(self, ocr: Ocr, change_threshold: int = 24, settle_s: float = 2.0, force_s: float = 8.0,
                 min_region: tuple[int, int] = (64, 8), window_min_share: float = 0.15) -> None:
        self.ocr = ocr
        self.windows = RaisedWindows(window_min_share)
        self.threshold, self.settle_s, self.force_s = change_threshold, settle_s, force_s
        self.min_region = min_region
        self.log = TextLog()
        self.recalled = 0
        self.ref: np.ndarray | None = None
        self._memory: list[_Screen] = []
        self._forced: list[list[Any]] = []  # [box, next allowed t, interval]
        self._base_h: int | None = None
        self._content: Box = (0, 0, 0, 0)
        self._frame: np.ndarray | None = None  # the previous sample, full size
        self._blank = False

    def update(self, t: float, frame: np.ndarray, small: np.ndarray, motion: np.ndarray | None,
               blank: bool, box: tuple[int, int, int, int] | None) -> None:
        """Take one sample: full grey frame, its thumbnail, motion mask, blankness, content box."""
        if self.ref is None or self.ref.shape != small.shape:
            self.ref = np.zeros_like(small)
            self._since = np.full(small.shape, np.inf, np.float32)
            self._changed = np.full(small.shape, -np.inf, np.float32)
        if motion is not None:
            self._changed[motion] = t
        if blank or box is None:
            if not self._blank:
                self.log.blank(t)
            self._blank = True
            self.ref, self._since[:] = small.copy(), np.inf
            self.windows.pending, self.windows.open = [], []
            return
        self._blank = False
        self._base_h = self._base_h or box[3]
        self._content = box
        dirty = cv2.absdiff(small, self.ref) > self.threshold
        moving_now = motion is not None and np.count_nonzero(motion) > _SCROLL_SHARE * _area(box)
        scrolled = moving_now and self._scroll(t, small, box)
        self._windows_changed(t, small, None if scrolled else motion, box, frame)
        if scrolled or self.windows.restored:
            dirty = cv2.absdiff(small, self.ref) > self.threshold
        self._since[dirty & np.isinf(self._since)] = t
        self._since[~dirty] = np.inf
        if self._wide_enough(dirty):
            jobs = self._jobs(t, dirty)
            if jobs:
                self._read(t, frame, small, box, jobs)

    # --- windows raised over part of the screen ----------------------------------------------------

    def _windows_changed(self, t: float, small: np.ndarray, motion: np.ndarray | None, box: Box,
                         frame: np.ndarray) -> None:
        """Windows gone (what was under them is back: no need to read it again), new candidates."""
        self.windows.restored = False
        for item in self.windows.back(small, self.threshold):
            if item.read:
                self.windows.restored = True
                x, y, w, h = item.box
                self.ref[y:y + h, x:x + w] = item.under
                self._since[y:y + h, x:x + w] = np.inf
                self.log.gone(t, item.key)
                logger.debug("t=%.1f window %d gone", t, item.key)
        before, self._frame = self._frame, frame
        if motion is not None and before is not None and before.shape == frame.shape:
            self.windows.changed(t, motion, box, self.ref, (frame, before))

    def _read_windows(self, frame: np.ndarray, small: np.ndarray, jobs: list[tuple[Box, float]], scale: float) -> None:
        """Windows that appeared where this read is: their title bar, read on its own."""
        for item in self.windows.due([b for b, _ in jobs]):
            full = to_frame(item.box)
            bands = find_title_bands(frame, full)
            if not item.solid:  # only text changed: a window only with a wide title bar over that text,
                # whose text came with it (the page's own header above is what the screen showed before)
                bands = [b for b in bands if b[2] >= THIN_TITLE_SHARE * self._content[2] * SHRINK
                         and min(b[0] + b[2], full[0] + full[2]) - max(b[0], full[0]) >= 0.5 * b[2]
                         and _new_ink(small, item.before, _title_crop(frame, b)[0], self.threshold) >= _NEW_TITLE]
            else:  # its title bar is at its top and spans it: not a band above or across part of it
                bands = [b for b in bands if b[2] >= 0.5 * full[2] and abs(b[1] - full[1]) <= 24]
            # named by its text only if it changed as a block, not edge to edge, in a colour of its own
            text_ok = item.solid and not _spans(item.box, self._content) and not _same_ground(frame, item)
            if not bands and not text_ok:
                continue
            crops = [self.ocr.submit(frame, _title_crop(frame, b)[0], scale, title=True) for b in bands]
            self.log.window(item.since, full, item.key, crops, text_ok)
            logger.debug("window %d at %s since %.1f, title bars %s", item.key, full, item.since, bands)

    # --- scrolling ---------------------------------------------------------------------------

    def _scroll(self, t: float, small: np.ndarray, box: Box) -> bool:
        """If part of the screen just moved vertically, move what was read with it; True if so."""
        found = scrolled_reference(small, self.ref, box, self.threshold)
        if found is None:
            return False
        (y0, y1), dy, band = found
        x, w = box[0], box[2]
        self.ref[y0:y1, x:x + w] = band
        self._since[y0:y1, x:x + w] = np.inf
        self.log.shift(t, (y0 * SHRINK, y1 * SHRINK), dy * SHRINK)
        logger.debug("t=%.1f scrolled %d px in rows %d-%d", t, dy * SHRINK, y0 * SHRINK, y1 * SHRINK)
        return True

    # --- choosing what to read --------------------------------------------------------------

    def _wide_enough(self, dirty: np.ndarray) -> bool:
        """Cheap pre-check: some run of dirty columns is as wide as the smallest readable region."""
        cols = cv2.dilate(dirty.any(axis=0).view(np.uint8)[None, :], _DILATE[:1]).ravel()
        if not cols.any():
            return False
        edges = np.flatnonzero(np.diff(np.concatenate(([0], cols, [0]))))
        return int((edges[1::2] - edges[::2]).max()) * SHRINK >= self.min_region[0]

    def _jobs(self, t: float, dirty: np.ndarray) -> list[tuple[Box, float]]:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(dirty.view(np.uint8), _DILATE))
        jobs = []
        for i in range(1, count):
            x, y, w, h, _ = (int(v) for v in stats[i])
            if w * SHRINK < self.min_region[0] or h * SHRINK < self.min_region[1]:
                continue
            window = np.s_[y:y + h, x:x + w]
            region = (labels[window] == i) & dirty[window]
            if not region.any():
                continue
            since = float(np.median(self._since[window][region]))  # robust to stale specks
            moving = region & (self._changed[window] > t - self.settle_s)
            settled = np.count_nonzero(moving) <= max(_STILL_PX, 0.02 * np.count_nonzero(region))
            # forced only when the *changing* pixels have been changing for force_s
            busy_since = since if settled else float(np.median(self._since[window][moving]))
            if settled or (t - busy_since >= self.force_s and self._may_force(t, (x, y, w, h))):
                jobs.append(((x, y, w, h), since))
        return jobs

    def _may_force(self, t: float, box: Box) -> bool:
        for entry in self._forced:
            if _overlap(entry[0], box):
                if t < entry[1]:
                    return False
                entry[2] = min(_FORCE_MAX_S, entry[2] * 2)
                entry[0], entry[1] = box, t + entry[2]
                return True
        self._forced.append([box, t + self.force_s, self.force_s])
        return True

    # --- reading ------------------------------------------------------------------------------

    def _read(self, t: float, frame: np.ndarray, small: np.ndarray, box: Box, jobs: list[tuple[Box, float]]) -> None:
        changed = np.isfinite(self._since)
        since = min(s for _, s in jobs)
        if np.count_nonzero(changed) > _RECALL_SHARE * small.size and self._recall(t, small, changed):
            return
        whole = len(jobs) >= _WHOLE_JOBS and _area(_union([b for b, _ in jobs])) >= _FULL_SHARE * _area(box)
        if whole:  # a new screen: read it at once, from the time most of it changed
            since = float(np.median(self._since[changed]))
            jobs = [(box, since)]
        scale = min(2.5, self._base_h / box[3]) if box[3] else 1.0
        scale = scale if scale > 1.05 else 1.0
        self._read_windows(frame, small, jobs, scale)
        for (x, y, w, h), job_since in jobs:
            full = (x * SHRINK, y * SHRINK, w * SHRINK, h * SHRINK)
            flat = float(small[y:y + h, x:x + w].std()) <= _FLAT_STD  # nothing to read there
            self.log.read(job_since, full, None if flat else self.ocr.submit(frame, full, scale))
            self.ref[y:y + h, x:x + w] = small[y:y + h, x:x + w]
            self._since[y:y + h, x:x + w] = np.inf
            logger.debug("t=%.1f reading %s%s", t, full, " (flat)" if flat else "")
        band = (box[0], box[1], box[2], max(2, round(_TITLE_SHARE * box[3])))
        in_band = [s for b, s in jobs if _overlap(b, band)]
        if in_band:
            self._read_title(frame, box, band, min(in_band), scale)
        if whole:
            self._remember(small)
        self.log.settle(since)

    def _read_title(self, frame: np.ndarray, box: Box, band: Box, since: float, scale: float) -> None:
        """The title bar at the top of the screen (or the tab shown in a browser's tab strip)."""
        found = title_band(frame, to_frame(box), search=4)
        if found is None:
            crop, how = to_frame(band), "top_band"
        else:
            crop, how = _title_crop(frame, found)
        self.log.title(since, self.ocr.submit(frame, crop, scale, title=True), how, found)

    def _recall(self, t: float, small: np.ndarray, changed: np.ndarray) -> bool:
        """Back to a screen read before: take its text; only what differs is read later."""
        best, best_share = None, _RECALL_SHARE
        for screen in self._memory:
            share = np.count_nonzero(cv2.absdiff(screen.thumb, small) > self.threshold) / small.size
            if share <= best_share:
                best, best_share = screen, share
        if best is None:
            return False
        logger.debug("t=%.1f recalled screen %d", t, best.key)
        self._memory.remove(best)
        self._memory.insert(0, best)
        self.recalled += 1
        self.log.recall(float(np.median(self._since[changed])), best.key)
        self.ref = best.thumb.copy()
        self._since[:] = np.inf
        self.windows.pending, self.windows.open = [], []
        return True

    def _remember(self, small: np.ndarray) -> None:
        key = self.log.remember()
        self._memory.insert(0, _Screen(small.copy(), key))
        del self._memory[_MEMORY:]


def _title_crop(frame: np.ndarray, band: Box) -> tuple[Box, str]:
    """Where a title bar's text is: the tab shown in a tab strip, else the bar without icon and buttons."""
    tab = active_tab(frame, band)
    return (tab, "browser_tab") if tab != band else (title_text_box(band), "title_bar")


def _new_ink(small: np.ndarray, before: np.ndarray, box: Box, threshold: int) -> float:
    """The share of the text in ``box`` (frame pixels; on the thumbnail, what stands out from its
    row's colour) that was not there ``before``."""
    x0, y0 = box[0] // SHRINK, box[1] // SHRINK
    x1, y1 = -(-(box[0] + box[2]) // SHRINK), -(-(box[1] + box[3]) // SHRINK)
    now, was = small[y0:y1, x0:x1].astype(np.int16), before[y0:y1, x0:x1].astype(np.int16)
    ink = np.abs(now - np.median(now, axis=1, keepdims=True)) > threshold
    return float(np.count_nonzero(ink & (np.abs(now - was) > threshold))) / max(1, np.count_nonzero(ink))


def _same_ground(frame: np.ndarray, item: Raised) -> bool:
    """The region's background is the one it had (a page that moved or changed, not a window)."""
    x, y, w, h = to_frame(item.box)
    return abs(float(np.median(frame[y:y + h, x:x + w])) - float(np.median(item.under))) < 24


def _spans(inner: Box, outer: Box) -> bool:
    """``inner`` reaches (within 3 %) both the left and the right side of ``outer``."""
    margin = 0.03 * outer[2]
    return inner[0] <= outer[0] + margin and inner[0] + inner[2] >= outer[0] + outer[2] - margin


def _area(box: Box) -> int:
    return box[2] * box[3]


def _union(boxes: list[Box]) -> Box:
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
