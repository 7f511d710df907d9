"""Speed of the screencast handler (see docs/samples-and-bench.md; run by bench/speed.py).

- ``decode_only``: OpenCV (the FFmpeg in opencv-contrib-python) reads every frame, one decoding
  thread, BGR frames, nothing else: the cost of merely looking at the recording (the same
  definition as the other modalities).
- ``pipeline``: ``handlers.screencast.screencast.process`` on the file, as the worker calls it.
- ``naive``: the handler's own 2 fps sampling (ffmpeg, luma only), then tesseract on every
  sampled frame, whole, one run per frame (single-threaded, as the handler runs it) and the
  deny-list on its text: OCR without change detection. It stops after ``budget_s`` and
  extrapolates.

``python bench/speed_screencast.py FILE`` runs the three in this process and prints the times.

Measured with ``bench/speed.py`` on the shared 2-core build machine (other jobs running, load
average 2-5 during the run), ``make_long`` recordings (1280x720, 10 fps H.264, per hour 30 window
switches, 30 forbidden-content stretches, 10 blank screens):

    minutes  decode_only         pipeline            naive (extrapolated)
    10       6.7 s  (6.9 CPU-s)  8.1 s  (8.3 CPU-s)  0.55 s per media s -> ~330 s
    60       50.6 s (39.1 CPU-s) 46.8 s (41.3 CPU-s) 0.72 s per media s -> ~2590 s

pipeline / decode_only 0.93 and naive / pipeline 55 for the hour. Under heavier load (average
~8) the hour took 47-64 s wall for 39-45 CPU-s; a clean hour with a third of it scrolling
(``make_long(..., clean=True)``) 50 s wall, 56 CPU-s.

With Russian and English OCR and raised-window tracking (issue 18), in one run at load average
20-31 (the machine shared by several jobs): decode_only 275.1 s (69.8 CPU-s), pipeline 96.3 s
(53.4 CPU-s), naive 3.1 s per media s: pipeline / decode_only 0.35 (wall), 0.77 (CPU).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from _common import decode_every_frame, handler_on


if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["MODALITY", "decode_only", "naive", "pipeline"]

MODALITY = "screencast"


def decode_only(path: Path) -> dict[str, Any]:
    """Decode every frame single-threaded; count them."""
    return decode_every_frame(path)


def pipeline(path: Path) -> dict[str, Any]:
    """The handler on the file, as the worker calls it; returns its result."""
    return handler_on(MODALITY, path)


def naive(path: Path, budget_s: float) -> dict[str, Any]:
    """OCR of every sampled frame until ``budget_s``; seconds of work per media second."""
    import pytesseract

    from handlers.screencast.frames import analysis_size, sample_frames
    from handlers.screencast.matching import DEFAULT_DENY_LIST, Matcher
    from handlers.screencast.ocr import Ocr
    from handlers.screencast.options import Options
    from ml_service.core.media_probe import probe

    Ocr().close()  # same tesseract set-up as the handler (single-threaded)
    opts, matcher = Options(), Matcher(DEFAULT_DENY_LIST)
    info = probe(Path(path))
    video = next(s for s in info["streams"] if s["type"] == "video")
    size = analysis_size(video["width"], video["height"], opts.max_width)
    started = time.perf_counter()
    frames, t = 0, 0.0
    for t, frame in sample_frames(Path(path), size, opts.sample_fps):
        text = pytesseract.image_to_string(frame, config="--psm 3")
        for line in text.splitlines():
            matcher.denied(line)
        frames += 1
        if time.perf_counter() - started >= budget_s:
            break
    elapsed = time.perf_counter() - started
    media_s = t + 1.0 / opts.sample_fps
    duration = info.get("duration_s") or media_s
    return {"seconds_per_media_second": elapsed / media_s, "frames_ocred": frames,
            "extrapolated": media_s < duration - 1.0}


def _main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/speed_screencast.py RECORDING", file=sys.stderr)
        return 2
    path = Path(argv[0])
    for name, run in (("decode_only", lambda: decode_only(path)), ("pipeline", lambda: pipeline(path)),
                      ("naive", lambda: naive(path, 60.0))):
        started = time.perf_counter()
        out = run()
        brief = out.get("media", out) if name == "pipeline" else out
        print(f"{name}: {time.perf_counter() - started:.1f} s  {brief}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
