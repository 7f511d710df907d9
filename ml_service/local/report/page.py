"""The report page: one self-contained HTML file for one session's results, all modalities.

The page has a summary table (status, violations, flagged time and trust score per modality),
an overview timeline when there are several modalities, and per modality: notes, media facts,
a timeline, the per-check statistics and a table of intervals with confidence, details and an
evidence thumbnail. Everything is inline (CSS, SVG, ``data:`` images): the page loads nothing
and runs no script. Every text a handler or a platform chose is escaped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ml_service import __version__
from ml_service.local.report.evidence import Progress, evidence_for
from ml_service.local.report.style import CSS
from ml_service.local.report.timeline import Bar, color_map, timeline_svg
from ml_service.core.results import ErrorCode

__all__ = ["render_report", "report_html"]

_DETAIL_MAX = 300

Result = Mapping[str, Any]


def render_report(results: Mapping[str, Result], media: Mapping[str, Path] | None, out: Path, *,
                  session_id: str | None = None, runs: Mapping[str, Mapping[str, Any]] | None = None,
                  progress: Progress | None = None) -> Path:
    """Write the report for ``results`` (modality -> result) to ``out``; return its path.

    ``media`` (modality -> recording) adds thumbnails; without it the report has none.
    ``out`` is the HTML file, or a folder to hold ``report.html``. ``runs`` may give, per
    modality, the ``handler`` that ran and a ``note`` shown above its section.
    """
    evidence = {}
    for modality, path in (media or {}).items():
        if modality in results and path is not None:
            evidence[modality] = evidence_for(results[modality], Path(path), progress)
    out = Path(out)
    if out.is_dir():
        out = out / "report.html"
    text = report_html(results, evidence=evidence, session_id=session_id, runs=runs)
    out.write_text(text, encoding="utf-8")
    return out


def report_html(results: Mapping[str, Result], *, evidence: Mapping[str, Mapping[int, str]] | None = None,
                session_id: str | None = None, runs: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The whole page as text; ``evidence`` holds HTML snippets by modality and violation index."""
    evidence, runs = evidence or {}, runs or {}
    session = session_id or _first(results, "session_id") or "(no session id)"
    colors = color_map(v["type"] for r in results.values() for v in r.get("violations") or [])
    body = [_header(results, session), _summary(results, runs)]
    if len(results) > 1:
        body.append(_overview(results, colors))
    for modality, result in results.items():
        body.append(_section(modality, result, runs.get(modality) or {}, evidence.get(modality) or {}, colors))
    body.append(_FOOTER)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>ml-service report: {_e(session)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _first(results: Mapping[str, Result], key: str) -> Any:
    return next((r.get(key) for r in results.values() if r.get(key)), None)


def _slug(modality: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", modality)


def _anchor(modality: str, index: int) -> str:
    return f"v-{_slug(modality)}-{index}"


def _ok(result: Result) -> bool:
    return result.get("error_code") == 0


def _score(result: Result) -> str:
    if not _ok(result):
        return '<span class="score bad">failed</span>'
    score = float(result.get("score", 0))
    grade = "good" if score >= 0.9 else "fair" if score >= 0.6 else "bad"
    return f'<span class="score {grade}">{score:.2f}</span>'


def _time(t: Any) -> str:
    t = float(t)
    if t < 60:
        return f"{t:.1f} s"
    minutes, seconds = divmod(t, 60)
    return f"{int(minutes)}:{seconds:04.1f}"


def _flagged(result: Result) -> float:
    return sum(float(s.get("total_s", 0)) for s in (result.get("stats") or {}).values())


def _header(results: Mapping[str, Result], session: str) -> str:
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    count = sum(len(r.get("violations") or []) for r in results.values())
    scores = [float(r["score"]) for r in results.values() if _ok(r)]
    lowest = f"lowest trust score {min(scores):.2f}" if scores else "no successful analysis"
    kinds = {r.get("modality") or key for key, r in results.items()}
    parts = "" if len(kinds) == len(results) else f" in {len(results)} parts"
    return (f"<header><h1>Session <code>{_e(session)}</code></h1><p class=\"meta\">{len(kinds)} "
            f"modalit{'y' if len(kinds) == 1 else 'ies'}{parts} &middot; {count} suspected violation(s) &middot; "
            f"{lowest} &middot; generated {generated} by ml-service {_e(__version__)}</p></header>")


def _summary(results: Mapping[str, Result], runs: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for modality, r in results.items():
        duration = (r.get("media") or {}).get("duration_s")
        status = "ok" if _ok(r) else f"error {_e(r.get('error_code'))} ({_e(_code_name(r))})"
        rows.append(
            f'<tr><td><a href="#m-{_slug(modality)}">{_e(modality)}</a></td>'
            f"<td>{_e((runs.get(modality) or {}).get('handler', '-'))}</td>"
            f'<td class="{"" if _ok(r) else "failed"}">{status}</td>'
            f"<td>{_time(duration) if duration is not None else '-'}</td>"
            f"<td class=\"num\">{len(r.get('violations') or [])}</td><td>{_time(_flagged(r))}</td>"
            f"<td class=\"num\">{float(r.get('processing_time_s', 0)):.2f}</td><td>{_score(r)}</td></tr>")
    return ('<table class="summary"><tr><th>modality</th><th>handler</th><th>status</th>'
            "<th>duration</th><th>violations</th><th>flagged</th><th>analysis s</th><th>trust score</th></tr>"
            + "".join(rows) + "</table>")


def _code_name(result: Result) -> str:
    try:
        return ErrorCode(result.get("error_code")).name
    except ValueError:
        return "unknown"


def _overview(results: Mapping[str, Result], colors: Mapping[str, str]) -> str:
    lanes = [(m, _bars(m, r)) for m, r in results.items()]
    duration = max([(r.get("media") or {}).get("duration_s") or 0.0 for r in results.values()])
    return "<section><h2>All modalities</h2>" + timeline_svg(lanes, duration, colors, "session timeline") + "</section>"


def _bars(modality: str, result: Result) -> list[Bar]:
    return [(_anchor(modality, i), v) for i, v in enumerate(result.get("violations") or [])]


def _section(modality: str, result: Result, run: Mapping[str, Any], snippets: Mapping[int, str],
             colors: Mapping[str, str]) -> str:
    parts = [f'<section id="m-{_slug(modality)}"><h2>{_e(modality)} {_score(result)}</h2>']
    if run.get("note"):
        parts.append(f'<p class="note">{_e(run["note"])}</p>')
    if not _ok(result):
        parts.append(f'<p class="error">Analysis failed: error {_e(result.get("error_code"))} '
                     f"({_e(_code_name(result))}): {_e(result.get('msg', ''))}</p></section>")
        return "".join(parts)
    parts.append(_media_line(result.get("media") or {}))
    by_type: dict[str, list[Bar]] = {}
    for bar in _bars(modality, result):
        by_type.setdefault(bar[1]["type"], []).append(bar)
    duration = (result.get("media") or {}).get("duration_s")
    parts.append(timeline_svg(sorted(by_type.items()), duration, colors, f"{modality} timeline"))
    parts.append(_stats_table(result.get("stats") or {}, colors))
    parts.append(_intervals(modality, result.get("violations") or [], snippets, colors))
    return "".join(parts) + "</section>"


def _media_line(media: Mapping[str, Any]) -> str:
    facts = []
    if media.get("duration_s") is not None:
        facts.append(f"duration {_time(media['duration_s'])}")
    for key, label in (("frames_analysed", "frames analysed"), ("samples_analysed", "samples analysed")):
        if media.get(key) is not None:
            facts.append(f"{_e(media[key])} {label}")
    names = [f.get("name") for f in media.get("files") or [] if isinstance(f, Mapping) and f.get("name")]
    if names:
        facts.append("files: " + ", ".join(_e(n) for n in names))
    return f'<p class="meta">{" &middot; ".join(facts)}</p>' if facts else ""


def _swatch(vtype: str, colors: Mapping[str, str]) -> str:
    return f'<span class="swatch" style="background:{colors.get(vtype, "#bab0ac")}"></span>{_e(vtype)}'


def _stats_table(stats: Mapping[str, Mapping[str, Any]], colors: Mapping[str, str]) -> str:
    if not stats:
        return '<p class="clean">No suspected violation.</p>'
    rows = "".join(
        f'<tr><td>{_swatch(t, colors)}</td><td class="num">{_e(s.get("count"))}</td>'
        f'<td>{_time(s.get("total_s", 0))}</td><td class="num">{100 * float(s.get("share", 0)):.1f} %</td></tr>'
        for t, s in sorted(stats.items()))
    return ('<table class="stats"><tr><th>check</th><th>count</th><th>total</th><th>share of session</th></tr>'
            + rows + "</table>")


def _intervals(modality: str, violations: list[Mapping[str, Any]], snippets: Mapping[int, str],
               colors: Mapping[str, str]) -> str:
    if not violations:
        return ""
    rows = []
    for i, v in enumerate(violations):
        conf = float(v["confidence"])
        length = float(v["end_s"]) - float(v["start_s"])
        rows.append(
            f'<tr id="{_anchor(modality, i)}"><td class="num">{i + 1}</td><td>{_swatch(v["type"], colors)}</td>'
            f'<td>{_time(v["start_s"])}</td><td>{_time(v["end_s"])}</td><td>{_time(length)}</td>'
            f'<td><span class="conf"><span style="width:{100 * conf:.0f}%"></span></span> {conf:.2f}</td>'
            f"<td>{_details(v.get('details') or {})}</td><td>{snippets.get(i, '')}</td></tr>")
    return ('<table class="intervals"><tr><th>#</th><th>check</th><th>start</th><th>end</th><th>length</th>'
            "<th>confidence</th><th>details</th><th>evidence at start</th></tr>" + "".join(rows) + "</table>")


def _details(details: Mapping[str, Any]) -> str:
    items = []
    for key, value in details.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        if len(text) > _DETAIL_MAX:
            text = text[:_DETAIL_MAX] + "…"
        items.append(f"<b>{_e(key)}</b>: {_e(text)}")
    return "<br>".join(items)


_FOOTER = ("<footer><p>Times are seconds from the start of each modality's recording. The trust score is 1 "
           "when nothing is suspicious and falls with the confidence-weighted share of suspicious time; "
           "a failed analysis scores 0. Bar opacity in the timelines follows confidence; a bar links to its "
           "row. Evidence is the recording at each violation's start: a frame for video (for a detected object, "
           "the frame it was seen in, its box in red), the waveform from "
           "2 s before to 4 s after for audio (violation shaded). Suspected violations need a human's "
           "judgement.</p></footer>")
