"""What the demo shows: the found-vs-expected table, its summary line, and the combined report.

:func:`print_table` prints one row per session (match, trust score, analysis seconds, then
``check found/expected`` for every check either side names) and a summary: sessions matching
their truth and the distinct checks found. :func:`write_report` renders every session's result
into one proctor's report, a section per session, with thumbnails from its recording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ml_service.sandbox.demo_samples import compare
from ml_service.local.report import render_report
from ml_service.samples import Sample

__all__ = ["print_table", "result_of", "write_report"]

_HEADER = f"{'session':<37} {'modality':<11} {'match':<5} {'score':>5} {'time_s':>6}  checks found/expected"


def result_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The full result in a stored reply (``error_code`` -1 when the reply holds none)."""
    body = row.get("body")
    result = body.get("result") if isinstance(body, dict) else None
    return result if isinstance(result, dict) else {"error_code": -1}


def print_table(rows: Sequence[Mapping[str, Any]], expected: Mapping[str, Sample]) -> int:
    """Print the table and summary; return how many sessions matched their truth."""
    print(_HEADER)
    print("-" * len(_HEADER))
    answered, matched, found = {r["session_id"] for r in rows}, 0, set()
    for row in rows:
        sample, result = expected[row["session_id"]], result_of(row)
        if result.get("error_code") != 0:
            msg = str(row["body"].get("msg", "") if isinstance(row["body"], dict) else row["body"])
            print(f"{sample.name:<37} {sample.modality:<11} {'ERROR':<5} {'-':>5} {'-':>6}  "
                  f"error {result.get('error_code')}: {msg[:60]}")
            continue
        comparison = compare(sample.truth, result["violations"])
        matched += comparison.ok
        found.update(comparison.found)
        print(f"{sample.name:<37} {sample.modality:<11} {'yes' if comparison.ok else 'NO':<5} "
              f"{result['score']:>5.2f} {result['processing_time_s']:>6.1f}  {', '.join(comparison.cells())}")
    for name in expected:
        if name not in answered:
            print(f"{name:<37} {expected[name].modality:<11} {'NONE':<5} {'-':>5} {'-':>6}  no answer")
    print(f"\n{matched}/{len(expected)} sessions found exactly what their truth expects; "
          f"{len(found)} distinct checks found: {', '.join(sorted(found))}")
    return matched


def write_report(rows: Sequence[Mapping[str, Any]], expected: Mapping[str, Sample], out: Path,
                 handlers: Mapping[str, str]) -> Path | None:
    """One report with a section per answered session that follows the result schema;
    ``handlers`` names the handler that ran, by modality."""
    results = {r["session_id"]: result_of(r) for r in rows if result_of(r).get("schema")}
    if not results:
        return None
    media = {name: expected[name].recordings[0] for name in results}
    runs = {name: {"handler": handlers.get(expected[name].modality, "-")} for name in results}
    path = render_report(results, media, out, runs=runs,
                         session_id=f"demo: {len(results)} labelled sample sessions")
    print(f"report: {path}")
    return path
