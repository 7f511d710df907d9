"""The status page's view of live sessions: segments answered, gaps, alerts, the final result.

:func:`live_sessions` reads the stored answers whose ``result.live`` says they answer a segment
of a live session (``docs/contracts.md`` §5) and the kept ``violation_detected`` alerts, and
gives one row per session, latest activity first. Pure functions; the store runs the queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["live_sessions"]


def live_sessions(results: Sequence[Mapping[str, Any]], alerts: Sequence[Mapping[str, Any]],
                  limit: int = 20) -> list[dict[str, Any]]:
    """One row per live session: ``session_id``, ``modality``, ``segments`` (indices answered),
    ``final`` (its whole-session result's number of violations and gaps, once answered),
    ``alerts`` (count) and ``latest`` (time of the last answer or alert)."""
    rows: dict[str, dict[str, Any]] = {}
    for stored in results:
        body = stored.get("body")
        result = body.get("result") if isinstance(body, dict) else None
        live = result.get("live") if isinstance(result, dict) else None
        if not isinstance(live, dict) or "index" not in live:
            continue
        row = _row(rows, str(live.get("session_id") or stored.get("session_id")), result.get("modality"))
        row["segments"].add(live["index"])
        row["latest"] = max(row["latest"], stored.get("received") or "")
        if live.get("final"):
            row["final"] = {"violations": len(result.get("violations") or []), "gaps": len(live.get("gaps") or []),
                            "score": result.get("score")}
    for alert in alerts:
        row = _row(rows, str(alert.get("session_id")), alert.get("modality"))
        row["alerts"] += 1
        row["latest"] = max(row["latest"], alert.get("received") or "")
    ordered = sorted(rows.values(), key=lambda r: r["latest"], reverse=True)[:limit]
    return [{**r, "segments": _ranges(sorted(r["segments"]))} for r in ordered]


def _row(rows: dict[str, dict[str, Any]], session_id: str, modality: Any) -> dict[str, Any]:
    return rows.setdefault(session_id, {"session_id": session_id, "modality": modality, "segments": set(),
                                        "final": None, "alerts": 0, "latest": ""})


def _ranges(indices: list[int]) -> str:
    """``0-4, 6`` for [0, 1, 2, 3, 4, 6]."""
    parts: list[tuple[int, int]] = []
    for i in indices:
        if parts and i == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], i)
        else:
            parts.append((i, i))
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in parts) or "-"
