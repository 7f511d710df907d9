"""One recording, start to end: probe, decode samples, cheap signals, OCR where needed, violations.

:func:`analyse_recording` raises :class:`Unreadable` when the file is not a video ffmpeg can
decode; everything else about a recording is reported in its facts (``media.files`` entry).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from handlers.screencast.changes import ScreenSignals, shrink
from handlers.screencast.findings import forbidden_content, title_totals, window_switches
from handlers.screencast.frames import DecodeError, analysis_size, sample_frames
from handlers.screencast.matching import Matcher
from handlers.screencast.ocr import Ocr
from handlers.screencast.options import Options
from handlers.screencast.screen_text import TextTracker
from handlers.screencast.timeline import replay
from ml_service.handler_api import probe

__all__ = ["Unreadable", "analyse_recording"]


class Unreadable(Exception):
    """The recording is missing, corrupt or has no decodable video; the message says why."""


def _video_stream(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    info = probe(path)
    if not info["readable"]:
        raise Unreadable(info.get("reason") or "unreadable")
    video = next((s for s in info.get("streams", []) if s["type"] == "video" and s.get("width")), None)
    if video is None or info.get("still_image"):
        raise Unreadable("no video stream")
    return info, video


def analyse_recording(path: Path, opts: Options, ocr: Ocr | None, matcher: Matcher,
                      prior: dict[str, Any] | None = None) -> tuple[list[dict], dict]:
    """Violations (times from the start of this file) and facts about the file.

    ``prior`` is a live session's carry (``windows``: title -> seconds, ``boxes``: content box
    -> seconds, from earlier segments); the facts' ``carry`` is the same after this file."""
    prior = prior or {}
    boxes = Counter({tuple(b[:4]): round(b[4] * opts.sample_fps) for b in prior.get("boxes", [])})
    started = time.monotonic()
    info, video = _video_stream(Path(path))
    size = analysis_size(video["width"], video["height"], opts.max_width)
    step = 1.0 / opts.sample_fps
    signals = ScreenSignals(step, opts.change_threshold, opts.blank_max_std)
    tracker = TextTracker(ocr, opts.change_threshold, opts.settle_s, opts.force_s,
                          window_min_share=opts.window_min_share) if ocr else None
    ocr_before = (ocr.calls, ocr.seconds, ocr.crops) if ocr else (0, 0.0, 0)
    samples = 0
    try:
        for t, frame in sample_frames(Path(path), size, opts.sample_fps):
            small = shrink(frame)
            motion, blank = signals.add(t, small)
            if tracker is not None:
                tracker.update(t, frame, small, motion, blank, signals.boxes[-1])
            samples += 1
    except DecodeError as exc:
        raise Unreadable(str(exc)) from exc
    end = samples * step
    violations = signals.intervals(opts.blank_min_s, opts.frozen_min_s, opts.resolution_min_s, boxes)
    carry = {"boxes": [[*b, round(n / opts.sample_fps, 3)] for b, n in signals.box_counts(boxes).most_common(3)],
             "windows": prior.get("windows", {})}
    if tracker is not None:
        contexts, matches = replay(tracker.log, ocr.results(), matcher, end)
        violations += window_switches(contexts, end, opts.switch_min_s, carry["windows"])
        violations += forbidden_content(matches, contexts, end, matcher, opts.merge_gap_s)
        carry["windows"] = title_totals(contexts, end, carry["windows"])
    facts = {
        "name": Path(path).name,
        "duration_s": info.get("duration_s"),
        "analysed_s": round(end, 3),
        "width": video["width"],
        "height": video["height"],
        "fps": video.get("fps"),
        "codec": video.get("codec"),
        "frames_analysed": samples,
        "ocr_regions": ocr.crops - ocr_before[2] if ocr else 0,
        "ocr_calls": ocr.calls - ocr_before[0] if ocr else 0,
        "ocr_s": round(ocr.seconds - ocr_before[1], 3) if ocr else 0.0,
        "screens_recalled": tracker.recalled if tracker else 0,
        "analysis_s": round(time.monotonic() - started, 3),
        "carry": carry,
    }
    return violations, facts
