"""From what the text tracker saw to violations: ``window_switch`` and ``forbidden_content``.

Window switches: the windows in front over time (:class:`timeline.Foreground`: a title bar at
the top of the screen, the browser tab shown, or a window raised over part of the screen, named by
its own title bar or its text) are grouped by name similarity (page changes inside the exam,
"Question 2 of 5" -> "Question 3 of 5", stay one group). The group in front longest is the exam's
own window; time with any other in front is a ``window_switch`` naming it and saying how it was
recognised. Confidence: 0.85 from a title bar or tab, 0.8 from a raised window's own title bar
(0.7 when that title was read with OCR confidence under 70), 0.6 from a raised window's text.

Forbidden content: deny-list matches, plus (when an allow-list is set) time under a title that
matches none of its entries. Overlapping or nearly adjacent items (``merge_gap_s``) are one
violation listing every matched term, its text and its screen region.
"""

from __future__ import annotations

from typing import Any

from handlers.screencast.matching import Matcher
from handlers.screencast.foreground import Foreground, same_window

__all__ = ["forbidden_content", "title_totals", "window_switches"]

_MAX_LISTED = 10

Segment = tuple[float, float, Foreground | None]
Contexts = list[tuple[float, Foreground | None]]


def _confidence(front: Foreground) -> float:
    if front.how == "window_text":
        return 0.6
    if front.how == "window_title_bar":
        return 0.8 if front.line.conf >= 70 else 0.7
    return 0.85


def _segments(contexts: Contexts, end: float) -> list[Segment]:
    out = []
    for i, (start, line) in enumerate(contexts):
        stop = contexts[i + 1][0] if i + 1 < len(contexts) else end
        if stop > start:
            out.append((start, stop, line))
    return out


def _groups(segments: list[Segment]) -> tuple[list[int | None], list[str]]:
    """A group number per segment (None while blank) and each group's first title."""
    names: list[str] = []
    keys: list[str] = []
    ids: list[int | None] = []
    for _, _, front in segments:
        if front is None:
            ids.append(None)
            continue
        key = front.line.text
        match = next((i for i, k in enumerate(keys) if same_window(k, key)), None)
        if match is None:
            keys.append(key)
            names.append(front.line.text)
            match = len(keys) - 1
        ids.append(match)
    return ids, names


def _totals(segments: list[Segment], ids: list[int | None], names: list[str],
            prior: dict[str, float] | None) -> dict[int, float]:
    """Seconds on screen per group; ``prior`` (title -> seconds, earlier segments of a live
    session) counts too, its titles grouped like the others (``names`` grows with new ones)."""
    totals: dict[int, float] = {}
    for (start, stop, _), gid in zip(segments, ids):
        if gid is not None:
            totals[gid] = totals.get(gid, 0.0) + stop - start
    for title, seconds in (prior or {}).items():
        gid = next((i for i, name in enumerate(names) if same_window(name, title)), None)
        if gid is None:
            names.append(title)
            gid = len(names) - 1
        totals[gid] = totals.get(gid, 0.0) + float(seconds)
    return totals


def title_totals(contexts: Contexts, end: float, prior: dict[str, float] | None = None) -> dict[str, float]:
    """Seconds on screen per window (grouped titles), ``prior`` included: a live session's carry."""
    segments = _segments(contexts, end)
    ids, names = _groups(segments)
    totals = _totals(segments, ids, names, prior)
    return {names[g]: round(s, 3) for g, s in sorted(totals.items(), key=lambda kv: -kv[1])[:_MAX_LISTED]}


def window_switches(contexts: Contexts, end: float, min_s: float,
                    prior: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Intervals spent in a window other than the one on screen longest (``prior`` included)."""
    segments = _segments(contexts, end)
    ids, names = _groups(segments)
    totals = _totals(segments, ids, names, prior)
    if len(totals) < 2:
        return []
    home = max(totals, key=lambda g: (totals[g], -g))
    out: list[dict[str, Any]] = []
    for (start, stop, front), gid in zip(segments, ids):
        if gid is None or gid == home:
            continue
        last = out[-1] if out else None
        if last and last["_gid"] == gid and last["end_s"] >= start:
            last["end_s"] = stop
            continue
        line = front.line
        details = {"title": line.text, "title_confidence": line.conf, "title_box": list(line.box),
                   "recognised_by": front.how, "exam_window_title": names[home]}
        if front.how.startswith("window_"):
            details["window_box"] = list(front.box)
        out.append({"type": "window_switch", "start_s": start, "end_s": stop, "confidence": _confidence(front),
                    "_gid": gid, "details": details})
    for v in out:
        del v["_gid"]
    return [_rounded(v) for v in out if v["end_s"] - v["start_s"] >= min_s]


def forbidden_content(matches: list[dict[str, Any]], contexts: Contexts, end: float,
                      matcher: Matcher, merge_gap_s: float) -> list[dict[str, Any]]:
    """Deny-list matches and time outside the allow-list, merged into violations."""
    items = [(m["start_s"], m["end_s"], 0.9, {k: m[k] for k in ("term", "category", "text", "box")})
             for m in matches]
    for start, stop, front in _segments(contexts, end):
        if front is not None and not matcher.allowed(front.line.text):
            items.append((start, stop, 0.7, {"term": None, "category": "outside_allow_list",
                                             "text": front.line.text, "box": list(front.line.box)}))
    out: list[dict[str, Any]] = []
    for start, stop, confidence, item in sorted(items, key=lambda i: (i[0], i[1])):
        last = out[-1] if out else None
        if last and start <= last["end_s"] + merge_gap_s:
            last["end_s"] = max(last["end_s"], stop)
            last["confidence"] = max(last["confidence"], confidence)
            last["details"]["matches"].append(item)
            continue
        out.append({"type": "forbidden_content", "start_s": start, "end_s": stop, "confidence": confidence,
                    "details": {"matches": [item]}})
    for v in out:
        listed = v["details"]["matches"]
        v["details"] = {"text": listed[0]["text"], "region": listed[0]["box"],
                        "terms": sorted({m["term"] for m in listed if m["term"]}),
                        "categories": sorted({m["category"] for m in listed}),
                        "matches": _unique(listed)[:_MAX_LISTED]}
    return [_rounded(v) for v in out]


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for item in items:
        key = (item["term"], item["text"])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _rounded(v: dict[str, Any]) -> dict[str, Any]:
    return {**v, "start_s": round(v["start_s"], 3), "end_s": round(v["end_s"], 3)}
