"""The keystroke handler in a live session: what one segment's log hands to the next.

Given ``submission["segment"]`` (``docs/contracts.md`` §5), the handler

* reports the idle stretches at the segment's edges (before its first and after its last
  key) as fragments (``details.partial_min_s``): the worker joins them across the cuts, so an
  idle minute that a cut splits is still one ``idle`` violation;
* marks ``typist_change`` and ``paste_burst`` with the gap at which one pass merges them
  (``details.join_gap_s``), so the worker joins them across a cut as one pass would;
* carries the session's first ``typist_baseline_keys`` keystrokes (``carry["baseline"]``:
  ``[t_s, dwell_s or null, key]`` on the session timeline) and, without an enrolment log,
  checks later segments' rhythm against them, as one pass checks the session against its start.
"""

from __future__ import annotations

import math
from typing import Any

from handlers.keystrokes.checks import _violation
from handlers.keystrokes.events import KeyLog, parse_log
from handlers.keystrokes.intervals import ramp
from handlers.keystrokes.options import Options

__all__ = ["baseline_log", "carry_out", "edge_idle", "join_gaps"]


def baseline_log(segment: dict[str, Any] | None, vocab: dict[str, int], opts: Options) -> KeyLog | None:
    """The carried session start as an enrolment log, once it holds enough keystrokes."""
    state = (segment or {}).get("carry") or {}
    keys = state.get("baseline") or []
    if not segment or segment["index"] == 0 or len(keys) < opts.typist_baseline_keys:
        return None
    events: list[dict[str, Any]] = []
    for t, dwell, key in keys:
        events.append({"t": t, "type": "down", "key": key})
        if dwell is not None:
            events.append({"t": t + dwell, "type": "up", "key": key})
    events.sort(key=lambda e: e["t"])
    return parse_log({"time_unit": "s", "events": events}, "session start (carried)", vocab)


def carry_out(segment: dict[str, Any], session: KeyLog, vocab: dict[str, int], opts: Options) -> dict[str, Any]:
    """The carry after this segment: the session's first keystrokes, completed from this log."""
    kept = list(((segment.get("carry") or {}).get("baseline")) or [])
    names = {code: name for name, code in vocab.items()}
    offset = float(segment["offset_s"])
    for t, up, key in zip(session.down_t, session.up_t, session.key):
        if len(kept) >= opts.typist_baseline_keys:
            break
        dwell = None if math.isnan(up) else round(float(up - t), 4)
        kept.append([round(float(t) + offset, 4), dwell, names[int(key)]])
    return {"baseline": kept}


def edge_idle(session: KeyLog, opts: Options, segment: dict[str, Any]) -> list[dict[str, Any]]:
    """Idle stretches at the segment's edges that one pass would not end there: before the first
    key (unless this is the session's start) and after the last (unless it is the session's end)."""
    t = session.activity_t
    first, last = (float(t[0]), float(t[-1])) if len(t) else (session.duration_s, 0.0)
    edges = []
    if segment["index"] > 0 or opts.idle_include_edges:
        edges.append((0.0, first))
    if not segment.get("last") or opts.idle_include_edges:
        edges.append((last, session.duration_s))
    out = []
    for start, end in sorted(set(edges)):
        if end <= start or (opts.idle_include_edges and end - start >= opts.idle_min_s):
            continue  # nothing there, or idle() reported it already
        event = _violation("idle", start, end, ramp((end - start - opts.idle_min_s) / opts.idle_min_s),
                           gap_s=round(end - start, 3))
        if end - start < opts.idle_min_s:
            event["details"]["partial_min_s"] = opts.idle_min_s
        out.append(event)
    return _unique(out)


def _unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for e in events:
        if (e["start_s"], e["end_s"]) not in seen:
            seen.add((e["start_s"], e["end_s"]))
            out.append(e)
    return out


def join_gaps(violations: list[dict[str, Any]], opts: Options) -> list[dict[str, Any]]:
    """The violations, each marked with how far apart one pass merges two of its kind."""
    gaps = {"typist_change": opts.typist_merge_s, "paste_burst": opts.paste_merge_s}
    return [{**v, "details": {**(v.get("details") or {}), "join_gap_s": gaps[v["type"]]}} if v["type"] in gaps else v
            for v in violations]
