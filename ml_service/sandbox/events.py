"""Validating status events posted to ``/ml/events`` (``docs/contracts.md`` §4).

An event is a JSON object with ``timestamp`` (ISO 8601), ``event_type`` (one of
:data:`EVENT_TYPES`), ``data`` (an object), ``attempt`` (an integer >= 1) and ``service``
(``name``, ``queue``, ``version``, ``host``: non-empty strings). Extra keys are ignored,
but a body that carries a token is refused: the token travels only in the header.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["EVENT_TYPES", "Event", "EventError", "parse_event"]

EVENT_TYPES = frozenset({
    "service_started",
    "heartbeat",
    "session_processing_start",
    "session_processing_end",
    "session_processing_failed",
    "service_stopping",
    "violation_detected",
})
SERVICE_KEYS = ("name", "queue", "version", "host")
_MAX_TEXT = 200


class EventError(ValueError):
    """The body is not a valid event; ``str(exc)`` is the reason sent back with the 400."""


@dataclass(frozen=True)
class Event:
    timestamp: str
    event_type: str
    data: dict[str, Any]
    attempt: int
    service: dict[str, str]

    @property
    def session(self) -> str | None:
        """The session an event is about: ``data.session_id``, else ``submission <id>``."""
        for key, label in (("session_id", "{}"), ("submission_id", "submission {}")):
            value = self.data.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
                return label.format(value)
        return None


def parse_event(body: Any) -> Event:
    """Check ``body`` and return the :class:`Event`, or raise :class:`EventError`."""
    if not isinstance(body, dict):
        raise EventError("body must be a JSON object")
    if any(key in body for key in ("token", "access_token", "authorization")):
        raise EventError("the token must travel in the Authorization header, not the body")
    event_type = body.get("event_type")
    if event_type not in EVENT_TYPES:
        raise EventError(f"event_type must be one of {', '.join(sorted(EVENT_TYPES))}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise EventError("data must be a JSON object")
    attempt = body.get("attempt")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise EventError("attempt must be an integer >= 1")
    return Event(_timestamp(body.get("timestamp")), event_type, data, attempt,
                 _service(body.get("service")))


def _timestamp(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise EventError("timestamp must be an ISO 8601 string")
    try:
        dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventError("timestamp must be an ISO 8601 string") from exc
    return value


def _service(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise EventError("service must be an object with name, queue, version and host")
    for key in SERVICE_KEYS:
        text = value.get(key)
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT:
            raise EventError(f"service.{key} must be a non-empty string of at most {_MAX_TEXT}")
    return {key: value[key] for key in SERVICE_KEYS}
