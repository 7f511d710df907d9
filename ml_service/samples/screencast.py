"""Labelled screen recordings: an exam page, window switches, forbidden text, blank/frozen screens.

Frames are drawn (PIL text with Pillow's bundled font, OpenCV shapes) and piped to Debian
``ffmpeg`` (libx264, yuv420p), so no display server is needed and the bytes are deterministic
for a given ffmpeg build. A clip is a list of segments; each segment kind knows what it draws
and which truth event it plants:

    exam      the quiz page: ticking countdown, moving cursor, answer typed in bursts (clean)
    window    another maximised window (ChatGPT, WhatsApp Web, Google Search, Notepad, ...):
              ``window_switch`` and, when its page is forbidden, ``forbidden_content``
    popup     the exam page with a chat notification in a corner: ``forbidden_content``
    blank     black frames (sharing stopped): ``blank_screen``
    frozen    the previous frame repeated unchanged: ``frozen_screen``
    pillarbox the exam shown at 1024x768 inside the 1280x720 recording: ``resolution_change``
    wide      a two-display desktop squeezed into the recording (letterbox): ``resolution_change``

:func:`generate` writes the labelled set (17 clips of 45-120 s at 5 or 10 fps, 4 clean); :func:`make_clip`
makes one clip from segments (tests use it for short clips); :func:`make_long` loops a few
two-minute sessions with ``ffmpeg -f concat -c copy`` so an hour takes seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterator
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ml_service.samples._media import encode_frames, loop_concat
from ml_service.samples.truth import Sample

__all__ = ["MODALITY", "PAGES", "generate", "make_clip", "make_long"]

MODALITY = "screencast"
W, H = 1280, 720
Segment = tuple  # (kind, seconds) or (kind, seconds, argument)

# Other windows: title, address (None: not a browser), dark title bar, body lines, forbidden.
PAGES: dict[str, tuple[str, str | None, bool, list[str], bool]] = {
    "chatgpt": ("ChatGPT - Google Chrome", "https://chatgpt.com/c/6f1e", True, [
        "ChatGPT", "You: what are the eigenvalues of the matrix [[2, 1], [1, 2]]?",
        "The eigenvalues are 1 and 3. The characteristic polynomial is (2 - x)^2 - 1.",
        "Message ChatGPT"], True),
    "whatsapp": ("WhatsApp - Google Chrome", "https://web.whatsapp.com", True, [
        "WhatsApp", "Bob: answer to Q4 is 17", "Alice: did you get question 2?",
        "Type a message"], True),
    "search": ("eigenvalues symmetric matrix - Google Search - Google Chrome",
               "https://www.google.com/search?q=eigenvalues+symmetric+matrix", True, [
        "Google Search", "About 2,310,000 results", "Eigenvalues of a symmetric matrix are real",
        "Spectral theorem - proof and examples"], True),
    "notepad": ("notes.txt - Notepad", None, False, [
        "shopping list", "milk, bread, coffee", "call the dentist on Monday"], False),
    "calculator": ("Calculator", None, False, ["Standard", "7 8 9", "4 5 6", "1 2 3"], False),
    "discord": ("Discord", None, True, [  # dark theme: light text on dark grey
        "# general", "mia: anyone done with question 3 yet?", "leo: the rank is two, rows 1 and 2 are parallel",
        "Message #general"], True),
    "stackoverflow": ("numpy eigenvalues of a symmetric matrix - Stack Overflow - Google Chrome",
                      "https://stackoverflow.com/questions/8765", True, [
        "Stack Overflow", "numpy eigenvalues of a symmetric matrix", "Use numpy.linalg.eigh for symmetric input.",
        "Your Answer"], True),
}
_DARK_PAGES = {"discord"}
POPUPS = {"whatsapp": ("WhatsApp", "Bob: answer to Q4 is 17"),
          "telegram": ("Telegram", "Dan: solutions for Q3 attached")}
QUESTIONS = [
    "Compute the eigenvalues of the matrix A = [[4, 1], [2, 3]] and give one eigenvector.",
    "Explain why every real symmetric matrix has only real eigenvalues.",
    "Find the rank of the 3 x 3 matrix whose rows are (1, 2, 3), (2, 4, 6) and (1, 0, 1).",
    "State the rank-nullity theorem and apply it to the projection onto the x-y plane.",
    "Show that the determinant of an orthogonal matrix is either 1 or -1.",
]
ANSWERS = ["The eigenvalues are the roots of det(A - x I) = 0, so x = 2 and x = 5.",
           "Take the inner product of A v with v and use that A equals its transpose.",
           "Rows one and two are parallel, so the rank is two.", "dim ker + rank = n"]
_EXAM_TITLE = "Exam 42: Linear Algebra - Question {n} of 5 - Google Chrome"
_EXAM_URL = "https://lms.example.edu/mod/quiz/attempt.php?attempt=42&page={n}"
_TRUTH = {"blank": "blank_screen", "frozen": "frozen_screen", "pillarbox": "resolution_change",
          "wide": "resolution_change"}


@lru_cache(maxsize=None)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _window(size: tuple[int, int], title: str, url: str | None, dark: bool) -> tuple[Image.Image, int]:
    """A maximised window's chrome; returns the image and the y where its body starts."""
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    bar, ink = ((32, 33, 36), (235, 235, 235)) if dark else ((243, 243, 243), (20, 20, 20))
    draw.rectangle((0, 0, size[0], 34), fill=bar)
    draw.text((14, 8), title, font=_font(17), fill=ink)
    x = size[0] - 120  # minimise, maximise, close
    draw.line((x, 22, x + 12, 22), fill=ink, width=2)
    draw.rectangle((x + 40, 11, x + 52, 23), outline=ink, width=2)
    draw.line((x + 80, 11, x + 92, 23), fill=ink, width=2)
    draw.line((x + 80, 23, x + 92, 11), fill=ink, width=2)
    if url is None:
        return img, 44
    draw.rectangle((0, 34, size[0], 76), fill=(241, 243, 244))
    draw.rounded_rectangle((90, 40, size[0] - 90, 70), radius=14, fill="white")
    draw.text((110, 46), url, font=_font(16), fill=(60, 64, 67))
    return img, 86


@lru_cache(maxsize=64)
def _exam_base(question: int, size: tuple[int, int] = (W, H)) -> np.ndarray:
    img, top = _window(size, _EXAM_TITLE.format(n=question + 1), _EXAM_URL.format(n=question + 1), True)
    draw = ImageDraw.Draw(img)
    draw.text((60, top + 16), f"Question {question + 1}", font=_font(28), fill=(30, 30, 30))
    draw.text((60, top + 70), QUESTIONS[question % len(QUESTIONS)], font=_font(19), fill=(30, 30, 30))
    draw.text((60, top + 104), "Answer in full sentences; show your reasoning.", font=_font(19), fill=(90, 90, 90))
    draw.rectangle((60, top + 150, size[0] - 60, top + 300), outline=(150, 150, 150), width=2)
    for i, label in enumerate(("Previous page", "Next page")):
        x = 60 + 200 * i
        draw.rounded_rectangle((x, top + 330, x + 170, top + 370), radius=6, fill=(0, 101, 179))
        draw.text((x + 22, top + 340), label, font=_font(18), fill="white")
    return np.asarray(img)[:, :, ::-1].copy()


@lru_cache(maxsize=256)
def _text_patch(text: str, size: int, width: int, ink: tuple[int, int, int] = (30, 30, 30)) -> np.ndarray:
    img = Image.new("RGB", (width, size + 10), "white")
    ImageDraw.Draw(img).text((0, 2), text, font=_font(size), fill=ink)
    return np.asarray(img)[:, :, ::-1].copy()


@lru_cache(maxsize=16)
def _page(key: str) -> np.ndarray:
    title, url, dark, lines, _ = PAGES[key]
    img, top = _window((W, H), title, url, dark)
    draw = ImageDraw.Draw(img)
    ink = (25, 25, 25)
    if key in _DARK_PAGES:
        draw.rectangle((0, top - 10, W, H), fill=(49, 51, 56))
        ink = (220, 221, 222)
    if url:  # a chat/search site: side bar and a message box
        draw.rectangle((0, top - 10, 250, H), fill=(247, 247, 248))
        draw.text((24, top + 10), "+ New chat", font=_font(17), fill=(40, 40, 40))
        draw.rounded_rectangle((300, H - 90, W - 80, H - 40), radius=18, outline=(180, 180, 180), width=2)
    for i, line in enumerate(lines):
        y = H - 78 if url and i == len(lines) - 1 else top + 30 + 60 * i
        draw.text((320 if url else 24, y), line, font=_font(26 if i == 0 else 20), fill=ink)
    return np.asarray(img)[:, :, ::-1].copy()


def _cursor(frame: np.ndarray, t: float, rng_phase: float) -> None:
    h, w = frame.shape[:2]
    x = int(w * (0.5 + 0.35 * math.sin(0.23 * t + rng_phase)))
    y = int(h * (0.55 + 0.3 * math.sin(0.31 * t + 2 * rng_phase)))
    arrow = np.array([[0, 0], [0, 19], [5, 14], [9, 22], [12, 21], [8, 13], [14, 13]]) + (x, y)
    cv2.fillPoly(frame, [arrow], (255, 255, 255))
    cv2.polylines(frame, [arrow], True, (0, 0, 0), 1)


def _exam(t: float, question: int, phase: float, size: tuple[int, int] = (W, H), scroll: bool = False) -> np.ndarray:
    frame = _exam_base(question, size).copy()
    left = 45 * 60 - int(t)
    timer = _text_patch(f"Time left {left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}", 19, 190)
    frame[100:100 + timer.shape[0], size[0] - 250:size[0] - 60] = timer
    answer = ANSWERS[question % len(ANSWERS)]
    typed = answer[: int(max(0.0, (t % 40) - 8) * 4)]  # typing bursts: 8 s pause, then 4 chars/s
    if typed:
        patch = _text_patch(typed, 18, size[0] - 140)
        frame[250:250 + patch.shape[0], 70:70 + patch.shape[1]] = patch
    offset = 60 * (int(t // 5) % 4) if scroll else 0  # the page scrolls by 60 px every 5 s
    if offset:
        frame[86:size[1] - offset] = frame[86 + offset:].copy()
        frame[size[1] - offset:] = 255
    _cursor(frame, t, phase)
    return frame


def _popup(t: float, question: int, phase: float, key: str) -> np.ndarray:
    frame = _exam(t, question, phase)
    app, message = POPUPS[key]
    x0, y0 = W - 420, H - 150
    cv2.rectangle(frame, (x0, y0), (W - 20, H - 30), (60, 60, 60), -1)
    for dy, text, size in ((14, app, 20), (54, message, 18)):
        img = Image.new("RGB", (360, size + 10), (60, 60, 60))
        ImageDraw.Draw(img).text((0, 2), text, font=_font(size), fill=(245, 245, 245))
        frame[y0 + dy:y0 + dy + size + 10, x0 + 20:x0 + 380] = np.asarray(img)[:, :, ::-1]
    return frame


def _boxed(inner: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """``inner`` scaled into a ``box``-sized area centred on a black 1280x720 frame."""
    frame = np.zeros((H, W, 3), np.uint8)
    bw, bh = box
    x0, y0 = (W - bw) // 2, (H - bh) // 2
    frame[y0:y0 + bh, x0:x0 + bw] = cv2.resize(inner, box, interpolation=cv2.INTER_AREA)
    return frame


def _wide(t: float, question: int, phase: float) -> np.ndarray:
    desktop = np.empty((H, W, 3), np.uint8)
    desktop[:] = np.linspace(150, 90, H)[:, None, None] * np.array([1, 0.6, 0.3])
    return _boxed(np.hstack([_exam(t, question, phase), desktop]), (W, H // 2))


def _frame(kind: str, arg: str | None, t: float, question: int, phase: float) -> np.ndarray | None:
    if kind == "exam":
        return _exam(t, question, phase, scroll=arg == "scroll")
    if kind == "window":
        frame = _page(arg).copy()
        _cursor(frame, t, phase)
        return frame
    if kind == "popup":
        return _popup(t, question, phase, arg)
    if kind == "blank":
        return np.zeros((H, W, 3), np.uint8)
    if kind == "pillarbox":
        return _boxed(_exam(t, question, phase, (1024, 768)), (960, 720))
    if kind == "wide":
        return _wide(t, question, phase)
    return None  # frozen: repeat the previous frame


def _truth(segments: list[Segment], allow: list[str]) -> list[dict]:
    """Truth events. With an allow-list, a window whose title has no allowed entry is forbidden
    and an allowed one is not; forbidden windows back to back are one stretch of forbidden text."""
    events, t = [], 0.0
    for kind, seconds, *rest in segments:
        span = {"start_s": round(t, 3), "end_s": round(t + seconds, 3)}
        if kind == "window":
            events.append({"type": "window_switch", **span})
            title, denied = PAGES[rest[0]][0], PAGES[rest[0]][4]
            allowed = any(a.lower() in title.lower() for a in allow)
            if (denied and not allowed) or (allow and not allowed):
                events.append({"type": "forbidden_content", **span})
        elif kind == "popup":
            events.append({"type": "forbidden_content", **span})
        elif kind in _TRUTH:
            events.append({"type": _TRUTH[kind], **span})
        t += seconds
    merged: list[dict] = []
    for event in events:
        last = next((m for m in reversed(merged) if m["type"] == event["type"]), None)
        if event["type"] == "forbidden_content" and last and last["end_s"] >= event["start_s"]:
            last["end_s"] = event["end_s"]
        else:
            merged.append(event)
    return merged


def make_clip(path: Path, segments: list[Segment], fps: int = 5, seed: int = 0,
              allow: list[str] = ()) -> tuple[Path, list[dict]]:
    """Encode ``segments`` into an H.264 mp4 at ``path``; return it and its truth events."""
    rng = random.Random(seed)
    question, phase = rng.randrange(len(QUESTIONS)), rng.uniform(0, 6.28)

    def frames() -> Iterator[np.ndarray]:
        nonlocal question
        frame, t0 = np.zeros((H, W, 3), np.uint8), 0.0
        for kind, seconds, *rest in segments:
            question = question + 1 if kind == "exam" and t0 > 0 and rng.random() < 0.5 else question
            for i in range(round(seconds * fps)):
                t = t0 + i / fps
                frame = _frame(kind, rest[0] if rest else None, t, question, phase) if kind != "frozen" else frame
                yield frame
            t0 += seconds

    encode_frames(Path(path), frames(), (W, H), fps, "bgr24",
                  ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(5 * fps), "-pix_fmt", "yuv420p"])
    return Path(path), _truth(segments, list(allow))


# name, fps, segments, options: the labelled set
_SET: list[tuple[str, int, list[Segment], dict]] = [
    ("clean-exam", 5, [("exam", 120)], {}),
    ("clean-exam-10fps", 10, [("exam", 90)], {}),
    ("clean-exam-pages", 5, [("exam", 30), ("exam", 30), ("exam", 40)], {}),
    ("clean-exam-scrolling", 5, [("exam", 60, "scroll"), ("exam", 60, "scroll")], {}),
    ("chatgpt", 5, [("exam", 20), ("window", 15, "chatgpt"), ("exam", 25)], {}),
    ("whatsapp-and-search", 10, [("exam", 15), ("window", 12, "whatsapp"), ("exam", 20),
                                 ("window", 10, "search"), ("exam", 15)], {}),
    ("notepad", 5, [("exam", 25), ("window", 15, "notepad"), ("exam", 20)], {}),
    ("discord-dark", 5, [("exam", 20), ("window", 15, "discord"), ("exam", 25)], {}),
    ("search-then-chatgpt", 10, [("exam", 20), ("window", 8, "search"), ("window", 8, "chatgpt"), ("exam", 24)], {}),
    ("popup", 5, [("exam", 30), ("popup", 8, "whatsapp"), ("exam", 22), ("popup", 6, "telegram"),
                  ("exam", 14)], {}),
    ("blank", 5, [("exam", 20), ("blank", 12), ("exam", 28)], {}),
    ("frozen", 5, [("exam", 25), ("frozen", 40), ("exam", 25)], {}),
    ("pillarbox", 5, [("exam", 20), ("pillarbox", 20), ("exam", 20)], {}),
    ("second-display", 10, [("exam", 25), ("wide", 20), ("exam", 15)], {}),
    ("allow-list", 5, [("exam", 20), ("window", 12, "calculator"), ("exam", 13)],
     {"allow_list": ["Exam 42", "lms.example.edu"]}),
    ("open-book-stack-overflow", 5, [("exam", 20), ("window", 12, "stackoverflow"), ("exam", 18)],
     {"allow_list": ["Exam 42", "Stack Overflow"]}),
    ("mixed", 5, [("exam", 15), ("blank", 6), ("exam", 15), ("window", 10, "chatgpt"), ("exam", 12),
                  ("frozen", 35), ("exam", 10), ("popup", 7, "whatsapp"), ("exam", 10)], {}),
]
_CHECKS = ["window_switch", "forbidden_content", "blank_screen", "frozen_screen", "resolution_change"]


def generate(out_dir: Path, seed: int = 0, only: Collection[str] | None = None) -> list[Sample]:
    """The labelled set: clean exams plus one clip per kind of violation, and a mixed one
    (``only``: just the samples of these names)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = []
    for i, (name, fps, segments, options) in enumerate(_SET):
        if only is not None and f"screencast-{name}" not in only:
            continue
        path, truth = make_clip(out_dir / f"screencast-{name}.mp4", segments, fps, seed * 100 + i,
                                options.get("allow_list", []))
        checks = _CHECKS if not truth else sorted({e["type"] for e in truth})
        samples.append(Sample(name=f"screencast-{name}", modality=MODALITY, recordings=[path],
                              duration_s=sum(s[1] for s in segments), truth=truth, clean=not truth,
                              options=dict(options), checks=checks))
    return samples


def make_long(out_dir: Path, minutes: float, seed: int = 0, *, clean: bool = False) -> Path:
    """A ``minutes``-long 1280x720 10 fps recording: three 2-minute sessions, looped by concat.

    Per hour: 30 window switches, 30 forbidden-content stretches, 10 blank screens. ``clean``:
    exam pages only (typing, page changes, scrolling), to count false alarms per clean hour.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sessions = [
        [("exam", 40), ("window", 12, "chatgpt"), ("exam", 30), ("blank", 5), ("exam", 33)],
        [("exam", 35), ("popup", 8, "whatsapp"), ("exam", 40), ("window", 10, "notepad"), ("exam", 27)],
        [("exam", 50), ("window", 10, "search"), ("exam", 60)],
    ]
    if clean:
        sessions = [[("exam", 120)], [("exam", 40), ("exam", 40), ("exam", 40)], [("exam", 60, "scroll")] * 2]
    kind = "clean-" if clean else ""
    parts = [make_clip(out_dir / f"long-{kind}part{i}.mp4", s, 10, seed * 10 + i)[0] for i, s in enumerate(sessions)]
    return loop_concat(parts, minutes, out_dir / f"screencast-long-{kind}{minutes:g}min.mp4",
                       out_dir / f"long-{kind}parts.txt")
