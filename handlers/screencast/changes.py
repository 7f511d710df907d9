"""Cheap per-frame signals and the intervals built from them: blank, frozen, resolution.

Every sampled frame is shrunk 4x (area average, which also averages compression noise away)
and compared with the previous one. :class:`ScreenSignals` keeps, per sample:

- ``blank``: the shrunk frame is (nearly) one flat colour (``blank_max_std``): sharing stopped
  or a black screen.
- ``moved``: how many shrunk pixels changed by more than ``change_threshold`` grey levels since
  the previous sample. A frozen screen changes none (keyframe refreshes stay under ~15 levels);
  a moving cursor or a ticking exam timer changes tens.
- ``box``: the content area inside centred black bars (letterbox / pillarbox), the cue a
  recorder gives when the shared screen changes resolution or a second display joins.

:meth:`ScreenSignals.intervals` turns them into ``blank_screen``, ``frozen_screen`` and
``resolution_change`` violations. Times are seconds from the start of the recording.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

__all__ = ["SHRINK", "ScreenSignals", "content_box", "shrink"]

SHRINK = 4
_BAR_LEVEL = 28  # luma: darker rows/columns at the edges count as bars (black is 16 or 0)
_BAR_TOLERANCE = 2  # shrunk pixels: centred bars may differ by this much


def shrink(frame: np.ndarray) -> np.ndarray:
    """The analysis thumbnail: 1/4 size, area-averaged."""
    h, w = frame.shape
    return cv2.resize(frame, (w // SHRINK, h // SHRINK), interpolation=cv2.INTER_AREA)


def content_box(small: np.ndarray) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` of the area inside centred black bars; the whole frame without bars."""
    h, w = small.shape
    rows = np.flatnonzero(small.max(axis=1) > _BAR_LEVEL)
    cols = np.flatnonzero(small.max(axis=0) > _BAR_LEVEL)
    if rows.size == 0 or cols.size == 0:
        return 0, 0, w, h
    top, bottom = int(rows[0]), h - 1 - int(rows[-1])
    left, right = int(cols[0]), w - 1 - int(cols[-1])
    if abs(top - bottom) > _BAR_TOLERANCE:  # not centred: a dark page, not bars
        top = bottom = 0
    if abs(left - right) > _BAR_TOLERANCE:
        left = right = 0
    return left, top, w - left - right, h - top - bottom


@dataclass
class ScreenSignals:
    """Accumulates per-sample signals; ``step`` is the sampling interval in seconds."""

    step: float
    change_threshold: int = 24
    blank_max_std: float = 4.0
    frozen_max_changed: float = 1e-4  # share of pixels
    times: list[float] = field(default_factory=list)
    blank: list[bool] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    boxes: list[tuple[int, int, int, int] | None] = field(default_factory=list)
    _prev: np.ndarray | None = None

    def add(self, t: float, small: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Record one shrunk frame; return its motion mask (None for the first) and blankness."""
        is_blank = float(small.std()) <= self.blank_max_std
        mask = None
        if self._prev is not None and self._prev.shape == small.shape:
            mask = cv2.absdiff(small, self._prev) > self.change_threshold
        self._prev = small
        self.times.append(t)
        self.blank.append(is_blank)
        self.moved.append(small.size if mask is None else int(np.count_nonzero(mask)))
        self.boxes.append(None if is_blank else content_box(small))
        return mask, is_blank

    def intervals(self, blank_min_s: float, frozen_min_s: float, resolution_min_s: float,
                  prior: Counter | None = None) -> list[dict[str, Any]]:
        """The ``blank_screen``, ``frozen_screen`` and ``resolution_change`` violations; ``prior``
        counts content boxes seen before (a live session's earlier segments)."""
        return [*self._blank(blank_min_s), *self._frozen(frozen_min_s),
                *self._resolution(resolution_min_s, prior)]

    def box_counts(self, prior: Counter | None = None) -> Counter:
        """Samples per content box, ``prior`` included (and first among equals: the usual one)."""
        return (prior or Counter()) + Counter(b for b in self.boxes if b is not None)

    def _runs(self, flags: list[bool]) -> list[tuple[int, int]]:
        """Index ranges ``[i, j]`` (inclusive) where ``flags`` holds."""
        runs, start = [], None
        for i, flag in enumerate([*flags, False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                runs.append((start, i - 1))
                start = None
        return runs

    def _span(self, i: int, j: int) -> tuple[float, float]:
        return self.times[i], self.times[j] + self.step

    def _blank(self, min_s: float) -> list[dict[str, Any]]:
        out = []
        for i, j in self._runs(self.blank):
            start, end = self._span(i, j)
            if end - start >= min_s:
                out.append(_violation("blank_screen", start, end, 0.95, {"samples": j - i + 1}))
        return out

    def _frozen(self, min_s: float) -> list[dict[str, Any]]:
        limit = self.frozen_max_changed * (self._prev.size if self._prev is not None else 1)
        still = [not b and m <= limit for b, m in zip(self.blank, self.moved)]
        out = []
        for i, j in self._runs(still):
            start, end = self.times[max(0, i - 1)], self.times[j] + self.step  # unchanged since i-1
            if end - start >= min_s:
                confidence = round(min(0.9, 0.6 + 0.1 * (end - start) / min_s), 3)
                out.append(_violation("frozen_screen", start, end, confidence,
                                      {"unchanged_s": round(end - start, 3)}))
        return out

    def _resolution(self, min_s: float, prior: Counter | None = None) -> list[dict[str, Any]]:
        known = [b for b in self.boxes if b is not None]
        if not known:
            return []
        base = self.box_counts(prior).most_common(1)[0][0]
        differs = [b is not None and _differs(b, base) for b in self.boxes]
        out = []
        for i, j in self._runs(differs):
            start, end = self._span(i, j)
            if end - start >= min_s:
                box = Counter(b for b in self.boxes[i:j + 1] if b).most_common(1)[0][0]
                out.append(_violation("resolution_change", start, end, 0.9, _geometry(base, box)))
        return out


def _differs(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return abs(a[2] - b[2]) > max(_BAR_TOLERANCE, 0.03 * b[2]) or abs(a[3] - b[3]) > max(_BAR_TOLERANCE, 0.03 * b[3])


def _geometry(base: tuple[int, int, int, int], box: tuple[int, int, int, int]) -> dict[str, Any]:
    (_, _, bw, bh), (x, y, w, h) = base, box
    aspect = w / h if h else 0.0
    cue = "letterbox" if h < bh else "pillarbox" if w < bw else "content_area"
    return {
        "from": f"{bw * SHRINK}x{bh * SHRINK}",
        "to": f"{w * SHRINK}x{h * SHRINK}",
        "content_box": [x * SHRINK, y * SHRINK, w * SHRINK, h * SHRINK],
        "cue": cue,
        "aspect": round(aspect, 3),
        "second_display_suspected": aspect >= 2.5,
    }


def _violation(vtype: str, start: float, end: float, confidence: float, details: dict[str, Any]) -> dict[str, Any]:
    return {"type": vtype, "start_s": round(start, 3), "end_s": round(end, 3),
            "confidence": confidence, "details": details}
