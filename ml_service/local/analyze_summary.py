"""The terminal summary ``analyze`` prints: checks with counts and seconds, then each modality.

Plain text, fixed-width columns, no colour (it is read in terminals and in CI logs alike)::

    MODALITY    CHECK              COUNT  TOTAL S  SHARE
    webcam      face_absent            2     13.0  21.7%
    audio       -                      0      0.0   0.0%

    MODALITY    HANDLER                        STATUS  SCORE  SECONDS
    webcam      handlers.webcam.webcam.process  ok       0.81     4.21
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["summary_table"]


def summary_table(document: Mapping[str, Any], result_path: Path, report_path: Path) -> str:
    """The summary of an ``analyze`` result document, ending with where its files are."""
    runs = document["modalities"]
    checks = [("MODALITY", "CHECK", "COUNT", "TOTAL S", "SHARE")]
    overview = [("MODALITY", "HANDLER", "STATUS", "VIOLATIONS", "SCORE", "SECONDS")]
    for modality, run in runs.items():
        result = run["result"]
        stats = result.get("stats") or {}
        for check, s in sorted(stats.items()) or [("-", {"count": 0, "total_s": 0.0, "share": 0.0})]:
            checks.append((modality, check, str(s["count"]), f"{s['total_s']:.1f}", f"{100 * s['share']:.1f}%"))
        ok = result["error_code"] == 0
        overview.append((modality, run["handler"] + (" (fallback)" if run.get("note") else ""),
                         "ok" if ok else f"error {result['error_code']}", str(len(result["violations"])),
                         f"{result['score']:.2f}", f"{result['processing_time_s']:.2f}"))
    lines = [*_columns(checks, right=(2, 3, 4)), "", *_columns(overview, right=(3, 4, 5)), ""]
    for modality, run in runs.items():
        if run["result"]["error_code"] != 0:
            lines.append(f"{modality}: analysis failed: {run['result'].get('msg', '')}")
        elif run.get("note"):
            lines.append(f"{modality}: {run['note']}")
    scores = [r["result"]["score"] for r in runs.values() if r["result"]["error_code"] == 0]
    lowest = f"lowest trust score {min(scores):.2f}" if scores else "no successful analysis"
    lines.append(f"session {document['session_id']}: {len(runs)} modalit{'y' if len(runs) == 1 else 'ies'}, "
                 f"{document['total_s']:.1f} s in total, {lowest}")
    lines.append(f"wrote {result_path} and {report_path}")
    return "\n".join(lines)


def _columns(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(cell, w, i in right) for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]


def _pad(cell: str, width: int, right: bool) -> str:
    return cell.rjust(width) if right else cell.ljust(width)
