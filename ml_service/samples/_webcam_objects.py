"""Real photographs of phones, books, screens and other things, composited into webcam clips.

The cut-outs are committed in ``data/webcam_objects/`` (small JPEGs; ``objects.json`` names
each one's source repository, commit, path, sha256, region, licence and attribution;
``tools/webcam_object_crops.py`` rebuilds them from local copies of the sources):

- phones and wallets held in a hand in front of the body (masked: the hand and the object
  without the wall behind them), and hands holding an earbud case near the face (not a
  phone): frames of a CC BY 4.0 webcam dataset (a person at his webcam);
- books, monitors, a laptop, a person seen from behind, a mug: COCO 2017 photographs under
  CC BY 2.0 / CC BY-SA 2.0 (Flickr).

A pen and a wristwatch are drawn (no licensed photo was at hand): they are negatives too.

A clip event ``("object", t0, t1, name, cx, cy, height_px)`` shows cut-out ``name`` centred
at (cx, cy), ``height_px`` tall (0: as large as in its source), from t0 to t1 (0.3 s fades). Objects of kind ``screen`` and
``person`` stand behind the candidate, the others in front. :func:`object_truth` gives the
truth of such events; negatives (``hand``, ``wallet``, ``mug``, ``pen``, ``watch``) have none.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

__all__ = ["CHECKS", "OBJECT_SET", "object_truth", "paint_objects"]

DATA = Path(__file__).with_name("data") / "webcam_objects"
CHECKS = ["phone_visible", "book_or_notes_visible", "second_screen_visible", "person_in_background"]
_TRUTH = {"phone": "phone_visible", "book": "book_or_notes_visible", "screen": "second_screen_visible",
          "person": "person_in_background"}
_BEHIND = {"screen", "person"}
_FADE_S = 0.3

# name, seconds, candidate, reference photo, events (the candidate is the astronaut: public domain)
OBJECT_SET: list[tuple[str, float, str, str | None, list[tuple]]] = [
    # phones and wallets: held in a hand in front of the body, below the face, as large as in
    # their own 640x480 frame (height 0), the hand coming up from the frame's lower edge
    ("objects-phone", 45, "astronaut", None, [("object", 8, 16, "phone_a", 150, 319, 0),
                                             ("object", 26, 34, "phone_c", 480, 315, 0)]),
    ("objects-phone-2.webm", 40, "astronaut", None, [("object", 9, 17, "phone_b", 470, 311, 0),
                                                     ("object", 25, 33, "phone_d", 130, 309, 0)]),
    ("objects-book", 40, "astronaut", None, [("object", 8, 18, "book_a", 500, 390, 160),
                                            ("object", 26, 34, "book_b", 140, 405, 150)]),
    ("objects-screens", 45, "astronaut", None, [("object", 8, 18, "screen_a", 90, 290, 180),
                                               ("object", 26, 36, "laptop_a", 540, 340, 170)]),
    ("objects-person-behind", 40, "astronaut", None, [("object", 10, 24, "person_back", 560, 250, 260)]),
    ("objects-negatives", 56, "astronaut", None, [("object", 5, 12, "hand_a", 227, 246, 0),
                                                 ("object", 15, 24, "mug", 520, 410, 120),
                                                 ("object", 28, 36, "pen", 470, 430, 0),
                                                 ("object", 38, 46, "watch", 140, 420, 0),
                                                 ("object", 47, 54, "hand_b", 223, 247, 0)]),
    # wallets held like the phones above (the same webcam dataset): not phones
    ("objects-wallets", 40, "astronaut", None, [("object", 8, 16, "wallet_a", 160, 335, 0),
                                               ("object", 24, 32, "wallet_b", 470, 324, 0)]),
]


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict]:
    """The cut-outs' records by name (objects.json)."""
    data = json.loads((DATA / "objects.json").read_text())
    return {r["name"]: r for r in data["objects"]}


def _kind(name: str) -> str:
    return name if name in ("pen", "watch") else catalogue()[name]["kind"]


@lru_cache(maxsize=32)
def _sprite(name: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(rgb float32, alpha) of a cut-out scaled to ``height`` px, edges feathered."""
    if name in ("pen", "watch"):
        return _drawn(name)
    record = catalogue()[name]
    bgr = cv2.imread(str(DATA / record["file"]))
    scale = (height or bgr.shape[0] / record["scale"]) / bgr.shape[0]  # 0: the source's own size
    bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    h, w = bgr.shape[:2]
    if "mask" in record:  # the hand and what it holds, without the wall behind them
        alpha = cv2.resize(cv2.imread(str(DATA / record["mask"]), cv2.IMREAD_GRAYSCALE), (w, h)).astype(np.float32) / 255
        alpha = cv2.GaussianBlur(alpha, (0, 0), 1.2)
    else:
        alpha = np.zeros((h, w), np.float32)
        edge = max(2, int(0.06 * min(h, w)))
        alpha[edge:h - edge, edge:w - edge] = 1.0
        alpha = cv2.GaussianBlur(alpha, (0, 0), edge / 2)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32), alpha[..., None]


def _drawn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A ballpoint pen lying at an angle, or a wristwatch on a strap (drawn, not photographed)."""
    side = 160
    rgb = np.zeros((side, side, 3), np.float32)
    alpha = np.zeros((side, side), np.float32)
    if name == "pen":
        pts = cv2.boxPoints(((80, 80), (140, 9), -20)).astype(np.int32)
        for img, colour in ((rgb, (30, 40, 120)), (alpha, 1.0)):
            cv2.fillConvexPoly(img, pts, colour, cv2.LINE_AA)
        cv2.circle(rgb, (147, 56), 4, (200, 200, 205), -1, cv2.LINE_AA)
    else:
        for img, colour in ((rgb, (60, 45, 35)), (alpha, 1.0)):
            cv2.rectangle(img, (62, 0), (98, side), colour, -1)
        for img, colour in ((rgb, (170, 170, 175)), (alpha, 1.0)):
            cv2.circle(img, (80, 80), 30, colour, -1, cv2.LINE_AA)
        cv2.circle(rgb, (80, 80), 25, (235, 235, 230), -1, cv2.LINE_AA)
        cv2.line(rgb, (80, 80), (80, 62), (20, 20, 20), 2, cv2.LINE_AA)
        cv2.line(rgb, (80, 80), (93, 86), (20, 20, 20), 2, cv2.LINE_AA)
    return rgb, cv2.GaussianBlur(alpha, (0, 0), 1.0)[..., None]


def paint_objects(img: np.ndarray, events: list[tuple], t: float, front: bool) -> None:
    """Blend the cut-outs shown at ``t`` into ``img`` (float32 RGB, in place): the ones behind
    the candidate (``front=False``) or in front of them."""
    for e in events:
        if e[0] != "object" or not e[1] - _FADE_S <= t < e[2] + _FADE_S:
            continue
        _, t0, t1, name, cx, cy, height = e
        if (_kind(name) in _BEHIND) == front:
            continue
        fade = max(0.0, min(1.0, (t - (t0 - _FADE_S)) / _FADE_S, ((t1 + _FADE_S) - t) / _FADE_S))
        rgb, alpha = _sprite(name, int(height))
        held = _kind(name) in ("phone", "hand", "wallet")
        dx = (4 * math.sin(2.1 * t) if held else 0.0)
        dy = (3 * math.sin(1.7 * t + 1.0) if held else 0.0)
        _blend(img, rgb, alpha * fade, cx + dx, cy + dy)


def _blend(img: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, cx: float, cy: float) -> None:
    h, w = rgb.shape[:2]
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    ax0, ay0 = max(0, x0), max(0, y0)
    ax1, ay1 = min(img.shape[1], x0 + w), min(img.shape[0], y0 + h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    src = rgb[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    a = alpha[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    region = img[ay0:ay1, ax0:ax1]
    region += a * (src - region)


def object_truth(events: list[tuple], duration: float) -> list[dict]:
    """Truth events of the ``object`` events whose cut-out is a phone, book, screen or person."""
    out = []
    for e in events:
        if e[0] == "object" and _kind(e[3]) in _TRUTH:
            out.append({"type": _TRUTH[_kind(e[3])], "start_s": float(e[1]), "end_s": float(min(e[2], duration))})
    return out
