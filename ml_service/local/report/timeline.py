"""The report's timelines: hand-built inline SVG, one lane per violation type (or modality).

Each violation is a bar from ``start_s`` to ``end_s`` (at least 2 px wide, so an instant event
shows), coloured by type, more opaque the higher its confidence, with a tooltip and a link
to its row in the intervals table. No ``xmlns`` or other URL: inline SVG in HTML needs none.
"""

from __future__ import annotations

import html
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["PALETTE", "Bar", "color_map", "timeline_svg"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
LABEL_W, PLOT_W, LANE_H, AXIS_H, PAD, RIGHT = 150, 720, 24, 26, 8, 28  # LABEL_W: the least label room
CHAR_W = 7.5  # px per label character at the stylesheet's timeline font size, generously

_CLOCK_STEPS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)

Bar = tuple[str, Mapping[str, Any]]  # (anchor id of its table row, the violation)


def color_map(types: Iterable[str]) -> dict[str, str]:
    """A colour per violation type: palette order by sorted name, so every report agrees."""
    ordered = sorted(set(types))
    if len(ordered) <= len(PALETTE):
        return {t: PALETTE[i] for i, t in enumerate(ordered)}
    return {t: PALETTE[zlib.crc32(t.encode()) % len(PALETTE)] for t in ordered}


def timeline_svg(lanes: Sequence[tuple[str, Sequence[Bar]]], duration_s: float | None,
                 colors: Mapping[str, str], label: str = "timeline") -> str:
    """One SVG: a labelled lane per ``(name, bars)``, a time axis from 0 to the duration."""
    duration = _extent(lanes, duration_s)
    label_w = max([LABEL_W, *(12 + CHAR_W * len(name) for name, _ in lanes)])
    height = PAD + max(1, len(lanes)) * LANE_H + AXIS_H
    width = label_w + PLOT_W + RIGHT  # room for the last tick's label
    parts = [f'<svg class="timeline" role="img" aria-label="{html.escape(label)}" '
             f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">']
    for row, (name, bars) in enumerate(lanes):
        parts.append(_lane(row, name, bars, duration, colors, label_w))
    if not lanes:
        parts.append(f'<text x="{label_w}" y="{PAD + LANE_H * 0.65:.1f}" class="none">no violations</text>')
    parts.append(_axis(PAD + max(1, len(lanes)) * LANE_H, duration, label_w))
    parts.append("</svg>")
    return "".join(parts)


def _extent(lanes: Sequence[tuple[str, Sequence[Bar]]], duration_s: float | None) -> float:
    ends = [float(v["end_s"]) for _, bars in lanes for _, v in bars]
    return max([duration_s or 0.0, *ends, 1.0])


def _x(t: float, duration: float, label_w: float = LABEL_W) -> float:
    return label_w + min(max(t, 0.0), duration) / duration * PLOT_W


def _lane(row: int, name: str, bars: Sequence[Bar], duration: float, colors: Mapping[str, str],
          label_w: float) -> str:
    y = PAD + row * LANE_H
    parts = [f'<rect class="lane" x="{label_w:g}" y="{y}" width="{PLOT_W}" height="{LANE_H - 4}"/>',
             f'<text x="{label_w - 6:g}" y="{y + LANE_H * 0.6:.1f}" text-anchor="end">{html.escape(name)}</text>']
    for anchor, v in bars:
        start, end, conf = float(v["start_s"]), float(v["end_s"]), float(v["confidence"])
        x0 = _x(start, duration, label_w)
        w = max(2.0, _x(end, duration, label_w) - x0)
        tip = f"{v['type']} {start:.1f}-{end:.1f} s, confidence {conf:.2f}"
        parts.append(f'<a href="#{html.escape(anchor)}"><rect class="bar" x="{x0:.1f}" y="{y}" '
                     f'width="{w:.1f}" height="{LANE_H - 4}" fill="{colors.get(v["type"], PALETTE[-1])}" '
                     f'fill-opacity="{0.35 + 0.65 * conf:.2f}"><title>{html.escape(tip)}</title></rect></a>')
    return "".join(parts)


def _axis(y: float, duration: float, label_w: float) -> str:
    step = _tick_step(duration)
    parts = [f'<line class="axis" x1="{label_w:g}" x2="{label_w + PLOT_W:g}" y1="{y}" y2="{y}"/>']
    for i in range(int(duration / step + 1e-9) + 1):
        t = i * step
        x = _x(t, duration, label_w)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 4}"/>'
                     f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle">{_clock(t, duration)}</text>')
    return "".join(parts)


def _tick_step(duration: float) -> float:
    """A round step giving at most ten ticks: 1, 2 or 5 times a power of ten below 10 s,
    whole clock steps (10 s, 15 s, 30 s, 1 min, ..., 6 h) above."""
    raw = duration / 10
    if raw <= 5:
        power = 10 ** math.floor(math.log10(raw))
        return float(next(f * power for f in (1, 2, 5, 10) if f * power >= raw))
    return float(next((s for s in _CLOCK_STEPS if s >= raw), 3600 * math.ceil(raw / 3600)))


def _clock(t: float, duration: float) -> str:
    if duration < 120:
        return f"{t:g} s"
    minutes, seconds = divmod(int(round(t)), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}" if minutes >= 60 else f"{minutes}:{seconds:02d}"
