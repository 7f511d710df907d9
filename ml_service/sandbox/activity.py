"""Per-service work figures for the status page, read from the stored status events.

For each service (name, host, queue) :func:`service_activity` counts the sessions it finished
(``session_processing_end``: ``ok``; ``session_processing_failed``: ``failed``), its
throughput (finished sessions per minute over its busy span: from its first
``session_processing_start`` to its last finish), the mean analysis seconds of its successful
results, and its last error (time, session, error code, reason). Pure functions over event
rows; the store runs the query.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ACTIVITY_EVENTS", "ServiceKey", "empty_activity", "service_activity"]

ACTIVITY_EVENTS = ("session_processing_start", "session_processing_end", "session_processing_failed")
_REASON_MAX = 160

ServiceKey = tuple[str, str, str]  # (name, host, queue), the services table's key


def empty_activity() -> dict[str, Any]:
    """The figures of a service that has not finished a session yet."""
    return {"ok": 0, "failed": 0, "per_minute": None, "mean_processing_s": None, "last_error": None}


def service_activity(rows: Iterable[Mapping[str, Any]]) -> dict[ServiceKey, dict[str, Any]]:
    """Figures per service from event rows (``received``, ``event_type``, ``service``, ``data``
    as stored: JSON text), oldest first."""
    spans: dict[ServiceKey, list[float]] = {}
    times: dict[ServiceKey, list[float]] = {}
    out: dict[ServiceKey, dict[str, Any]] = {}
    for row in rows:
        service, data = _json(row["service"]), _json(row["data"])
        key = (service.get("name", ""), service.get("host", ""), service.get("queue", ""))
        figures = out.setdefault(key, empty_activity())
        span = spans.setdefault(key, [])
        if row["event_type"] == "session_processing_start":
            span[:1] = span[:1] or [row["received"]]
            continue
        span[1:] = [row["received"]]
        if row["event_type"] == "session_processing_end":
            figures["ok"] += 1
            seconds = (data.get("result") or {}).get("processing_time_s")
            if isinstance(seconds, (int, float)):
                times.setdefault(key, []).append(float(seconds))
        else:
            figures["failed"] += 1
            figures["last_error"] = _error(row["received"], data)
    for key, figures in out.items():
        figures["per_minute"] = _rate(figures["ok"] + figures["failed"], spans.get(key, []))
        if times.get(key):
            figures["mean_processing_s"] = sum(times[key]) / len(times[key])
    return out


def _rate(done: int, span: list[float]) -> float | None:
    """Finished sessions per minute over the busy span (None before a first finish)."""
    if done == 0 or len(span) < 2:
        return None
    return done / max((span[1] - span[0]) / 60.0, 1 / 60.0)


def _error(received: float, data: Mapping[str, Any]) -> dict[str, Any]:
    reason = str(data.get("reason") or "")
    if len(reason) > _REASON_MAX:
        reason = reason[:_REASON_MAX] + "…"
    return {"received": received, "session_id": data.get("session_id"),
            "submission_id": data.get("submission_id"), "error_code": data.get("error_code"),
            "reason": reason}


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
