"""Mouth and face cues: ``talking`` (a cue for the audio analysis) and ``expression_cues``
(a smile or surprise unusual for this person). Cues, not accusations."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from handlers.webcam.analyse import Obs, Observations
from handlers.webcam.intervals import Span, Violation, merge, spans, violation
from handlers.webcam.options import Options
from handlers.webcam.people import People

__all__ = ["expressions", "talking"]


def talking(data: Observations, opts: Options, people: People) -> list[Violation]:
    """Mouth opening and closing: the std of the inner-lip gap over a window of samples, above
    a floor and a share of the mean gap (see ``_moving``), then the interval is trimmed to its
    first and last clearly open mouth. Only frontal faces (a turned head changes the apparent
    gap) that are not held in a smile (lips drawn back: on a low-resolution face the inner-lip
    line jitters by 20-40 % of the gap, as much as speech; the smile is an expression cue) count."""
    usable = [(i, o) for i, o in enumerate(data.obs)
              if o.face is not None and not o.dark and _frontal(i, o, opts, people) and not _smiling(i, o, opts, people)]
    times = np.array([o.t for _, o in usable])
    mouth = np.array([o.face.mouth for _, o in usable])
    is_usable = {i for i, _ in usable}
    half = opts.talking_window_s / 2
    labels: list[tuple[float, Hashable | None]] = []
    still_moving: dict[float, bool] = {}
    for i, o in enumerate(data.obs):
        if i not in is_usable:
            labels.append((o.t, None if (o.dark or o.face is not None) else False))
            still_moving[o.t] = False  # a gap with an unusable sample is never bridged
            continue
        lo, hi = np.searchsorted(times, o.t - half), np.searchsorted(times, o.t + half, side="right")
        window = mouth[lo:hi]
        labels.append((o.t, _moving(window, opts) if len(window) >= 4 else None))
        still_moving[o.t] = len(window) >= 4 and float(window.std()) > opts.talking_mouth_std
    found = _bridge(merge(spans(labels, data.end_s, max_edge_gap_s=half), opts.merge_gap_s, 0.0), still_moving, opts)
    trimmed = [_trim_open(s, usable, people, opts) for s in found]
    return [violation("talking", s, 0.6, note="mouth movement: a cue for the audio analysis to confirm")
            for s in trimmed if s[1] - s[0] >= opts.talking_min_s]


def _bridge(found: list[Span], still_moving: dict[float, bool], opts: Options) -> list[Span]:
    """Join two talking spans less than ``talking_min_s`` apart when the mouth kept moving
    between them (above the floor, though not by a share of an open gap: a long vowel, a mouth
    held half open mid-sentence). Movement alone never starts a span."""
    out: list[Span] = []
    for span in found:
        if out and span[0] - out[-1][1] <= opts.talking_min_s and all(
                moving for t, moving in still_moving.items() if out[-1][1] < t < span[0]):
            out[-1] = (out[-1][0], span[1], out[-1][2])
        else:
            out.append(span)
    return out


def _moving(window: np.ndarray, opts: Options) -> bool:
    """Speech opens and closes the lips: the gap varies by a good share of itself. Landmark
    jitter on a blurred or low-resolution mouth held open (an upscaled photo; measured: std
    about 8 % of the gap) moves the inner-lip line by a small share of the gap only."""
    return bool(window.std() > max(opts.talking_mouth_std, opts.talking_mouth_rel * float(window.mean())))


def _smiling(i: int, o: Obs, opts: Options, people: People) -> bool:
    """Smiling, or half-way there: a smile's landmarks waver on the way up and down as well."""
    return people.rel(i, o, "smile") >= 0.5 * people.limit(i, "smile", opts.smile_delta)


def _frontal(i: int, o: Obs, opts: Options, people: People) -> bool:
    return abs(people.rel(i, o, "yaw")) < 0.8 * opts.head_yaw_deg and abs(people.rel(i, o, "pitch")) < 0.8 * opts.head_pitch_down_deg


def _trim_open(s: Span, usable: list[tuple[int, Obs]], people: People, opts: Options) -> Span:
    inside = [(i, o) for i, o in usable if s[0] <= o.t <= s[1]]
    is_open = [o.t for i, o in inside if people.rel(i, o, "mouth") > 1.5 * opts.talking_mouth_std]
    if not is_open:
        return s
    gap = 0.5 / max(1.0, opts.dense_fps)
    return (max(s[0], is_open[0] - gap), min(s[1], is_open[-1] + gap), s[2])


def expressions(data: Observations, opts: Options, people: People, speech: list[Violation] | None = None) -> list[Violation]:
    """Cues, not accusations: a smile or surprise well above this person's usual and beyond their
    own spread, held for ``expression_min_s``. Passing smiles, and smiles while talking
    (``speech``: the talking intervals; people smile as they speak), are not cues."""
    spoken = [(v["start_s"], v["end_s"]) for v in speech or []]

    def cue(i: int, o: Obs) -> str | bool:
        if o.face is None:
            return False
        if people.rel(i, o, "surprise") >= people.limit(i, "surprise", opts.surprise_score):
            return "surprise"
        if any(a <= o.t <= b for a, b in spoken):
            return False
        return "smile" if people.rel(i, o, "smile") >= people.limit(i, "smile", opts.smile_delta) else False

    series = [(o.t, None if o.dark else cue(i, o)) for i, o in enumerate(data.obs)]
    found = merge(spans(series, data.end_s), opts.merge_gap_s, opts.expression_min_s)
    return [violation("expression_cues", s, 0.3, cue=s[2], note="a cue, not an accusation") for s in found]
