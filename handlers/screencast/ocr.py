"""Batched OCR of frame regions: Tesseract (Debian ``tesseract-ocr``) via pytesseract.

Measured here: a tesseract process costs ~0.12 CPU-s before it reads anything (it loads its
model) and ~0.23 CPU-s for a whole 1280x720 screen; with its default OpenMP threads it costs
about three times as much on a busy 2-core machine. So :class:`Ocr`

- sets ``OMP_THREAD_LIMIT=1`` for the tesseract processes it starts (unless the operator chose a
  value),
- does not read a region when asked: :meth:`Ocr.submit` copies the crop and returns an id; crops
  are stacked into one tall canvas (white gaps between them), and each full canvas is read by
  one tesseract call on a worker thread while decoding goes on,
- :meth:`Ocr.results` waits for everything and returns ``{id: [Line, ...]}`` with boxes in
  frame pixels.

Text is read in Russian and English together (``-l rus+eng``, Debian ``tesseract-ocr-rus`` and
``-eng``; measured here: a 1280x720 screen costs ~0.85 CPU-s against 0.61 with English alone).
Title bars are turned into dark text on a light ground when their text is lighter than their
background (white-on-blue or white-on-dark text loses letters otherwise) and enlarged 2x.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract

__all__ = ["Box", "Line", "Ocr", "OcrUnavailable", "dark_on_light"]

Box = tuple[int, int, int, int]  # x, y, w, h in frame pixels
_MIN_WORD_CONF = 30.0
_PAD = 6
_GAP = 40  # white rows between stacked crops
_CANVAS_PX = 1280 * 1600  # a canvas is read once it holds this many pixels
_CANVAS_MAX_H = 6000

logger = logging.getLogger(__name__)


class OcrUnavailable(Exception):
    """The tesseract program is not installed."""


@dataclass(frozen=True)
class Line:
    """One line of recognised text; ``box`` in frame pixels."""

    text: str
    box: Box
    conf: float


@dataclass(frozen=True)
class _Crop:
    key: int
    image: np.ndarray
    origin: tuple[int, int]
    scale: float


class Ocr:
    """Collects crops, reads them in stacked batches on worker threads, counts calls and seconds."""

    def __init__(self, workers: int = 2, timeout_s: float = 300.0, languages: str = "rus+eng") -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        try:
            installed = set(pytesseract.get_languages(config=""))
        except pytesseract.TesseractNotFoundError as exc:
            raise OcrUnavailable("tesseract is not installed (Debian package tesseract-ocr; run install.sh)") from exc
        missing = [lang for lang in languages.split("+") if lang not in installed]
        if missing:
            raise OcrUnavailable(f"tesseract has no model for {', '.join(missing)} (Debian packages "
                                 f"{', '.join('tesseract-ocr-' + m for m in missing)}; run install.sh)")
        self.timeout_s, self.languages = timeout_s, languages
        self.calls = self.crops = 0
        self.seconds = 0.0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
        self._pending: list[_Crop] = []
        self._pending_px = 0
        self._futures: list[Future] = []

    def submit(self, frame: np.ndarray, box: Box, scale: float = 1.0, title: bool = False) -> int:
        """Queue the region ``box`` of ``frame`` for reading; return its id for :meth:`results`."""
        x, y, w, h = _padded(frame, box, 0 if title else _PAD)
        image = frame[y:y + h, x:x + w]
        if title:
            scale *= 2.0
        if scale != 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        if title:
            image = dark_on_light(image)
        key = self.crops
        self.crops += 1
        self._pending.append(_Crop(key, np.array(image), (x, y), scale))
        self._pending_px += image.size
        if self._pending_px >= _CANVAS_PX:
            self._flush()
        return key

    def results(self) -> dict[int, list[Line]]:
        """Read whatever is queued, wait for every batch, return the lines of each crop id."""
        self._flush()
        out: dict[int, list[Line]] = {}
        for future in self._futures:
            out.update(future.result())
        self._futures = []
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _flush(self) -> None:
        while self._pending:
            batch, height = [], 0
            while self._pending and (not batch or height + self._pending[0].image.shape[0] <= _CANVAS_MAX_H):
                crop = self._pending.pop(0)
                batch.append(crop)
                height += crop.image.shape[0] + _GAP
            self._futures.append(self._pool.submit(self._read, batch))
        self._pending_px = 0

    def _read(self, batch: list[_Crop]) -> dict[int, list[Line]]:
        canvas, tops = _stack(batch)
        started = time.monotonic()
        try:
            data = pytesseract.image_to_data(canvas, lang=self.languages, config="--psm 3", timeout=self.timeout_s,
                                             output_type=pytesseract.Output.DICT)
        except RuntimeError as exc:  # pytesseract's timeout
            logger.warning("tesseract gave up on a %dx%d batch: %s", canvas.shape[1], canvas.shape[0], exc)
            data = {}
        finally:
            self.calls += 1
            self.seconds += time.monotonic() - started
        out: dict[int, list[Line]] = {crop.key: [] for crop in batch}
        for text, (left, top, width, height), conf in _lines(data):
            i = max(0, int(np.searchsorted(tops, top + height / 2, side="right")) - 1)
            crop = batch[i]
            box = (crop.origin[0] + int((left - _GAP) / crop.scale), crop.origin[1] + int((top - tops[i]) / crop.scale),
                   int(width / crop.scale) + 1, int(height / crop.scale) + 1)
            out[crop.key].append(Line(text, box, conf))
        return out


def dark_on_light(image: np.ndarray) -> np.ndarray:
    """``image`` as black text on white: inverted when the text (the pixels farthest from the
    ground level) is lighter than the ground, as in most title bars, then binarised against each
    row's own ground (title bars are often gradients), since a grey band in a stacked canvas is
    taken for a picture and not read."""
    if not image.size:
        return image
    h, w = image.shape
    middle = image[h // 6:h - h // 6]  # no frame lines (the buttons are cut off already)
    low, ground, high = (float(v) for v in np.percentile(middle if middle.size else image, (1, 50, 99)))
    if high - low < 8:
        return image
    dark = (255 - image if high - ground > ground - low else image).astype(np.int16)
    ground_rows = np.median(dark, axis=1, keepdims=True)  # per row: title bars are often gradients
    delta = max(30.0, 0.25 * (high - low))
    return np.where(dark < ground_rows - delta, 0, 255).astype(np.uint8)


def _stack(batch: list[_Crop]) -> tuple[np.ndarray, np.ndarray]:
    """The crops one under another on white, ``_GAP`` apart; and each crop's top row."""
    width = max(c.image.shape[1] for c in batch) + 2 * _GAP
    height = sum(c.image.shape[0] for c in batch) + _GAP * (len(batch) + 1)
    canvas = np.full((height, width), 255, np.uint8)
    tops, y = [], _GAP
    for crop in batch:
        h, w = crop.image.shape
        canvas[y:y + h, _GAP:_GAP + w] = crop.image
        tops.append(y)
        y += h + _GAP
    return canvas, np.array(tops)


def _padded(frame: np.ndarray, box: Box, pad: int) -> Box:
    fh, fw = frame.shape[:2]
    x, y, w, h = box
    x0, y0 = max(0, x - pad), max(0, y - pad)
    return x0, y0, max(0, min(fw, x + w + pad) - x0), max(0, min(fh, y + h + pad) - y0)


def _lines(data: dict[str, list]) -> list[tuple[str, Box, float]]:
    """Tesseract's words grouped into lines: text, box in canvas pixels, mean confidence."""
    grouped: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data.get("text", [])):
        if word.strip() and float(data["conf"][i]) >= _MIN_WORD_CONF:
            grouped.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
    out = []
    for idx in grouped.values():
        left = min(data["left"][i] for i in idx)
        top = min(data["top"][i] for i in idx)
        right = max(data["left"][i] + data["width"][i] for i in idx)
        bottom = max(data["top"][i] + data["height"][i] for i in idx)
        conf = round(sum(float(data["conf"][i]) for i in idx) / len(idx), 1)
        out.append((" ".join(data["text"][i].strip() for i in idx), (left, top, right - left, bottom - top), conf))
    return out
