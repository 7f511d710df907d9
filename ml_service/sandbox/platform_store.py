"""What the platform stand-in remembers: clients, status events, services, sessions, results.

* clients: ``client_id`` -> salted hash of the secret (never the secret itself);
* events: every accepted status event, and per service (name, host, queue) a summary row:
  version, last event and its time, last heartbeat, current session, stopped flag; the
  service's work figures (sessions done, throughput, last error) are read from its events
  (:mod:`ml_service.sandbox.activity`);
* sessions: one row per ``POST /api/sessions``, keyed by the unique token of its callback
  URL; results: every reply XQueue delivered to such a callback;
* alerts: each ``violation_detected`` event of a live session, kept once per ``alert_id``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Callable

from ml_service.core.errors import ConfigError
from ml_service.sandbox.activity import ACTIVITY_EVENTS, empty_activity, service_activity
from ml_service.sandbox.db import Database
from ml_service.sandbox.events import Event
from ml_service.sandbox.tokens import hash_secret, verify_secret

__all__ = ["PlatformStore", "iso_time"]

_CLIENT_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
_SESSION_EVENTS = {
    "session_processing_start": "set",
    "session_processing_end": "clear",
    "session_processing_failed": "clear",
    "service_started": "clear",
}


def iso_time(epoch: float | None) -> str | None:
    """``2026-11-23T10:00:00.123Z`` for an epoch time (None stays None)."""
    if epoch is None:
        return None
    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PlatformStore:
    """The platform stand-in's tables in the sandbox database."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    # -- clients ---------------------------------------------------------------------
    def add_client(self, client_id: str, secret: str) -> None:
        """Register ``client_id`` (or replace its secret); only a salted hash is stored."""
        if not isinstance(client_id, str) or not _CLIENT_RE.match(client_id):
            raise ConfigError([f"client id {client_id!r}: use 1-128 of A-Z a-z 0-9 . _ : @ -"])
        if not isinstance(secret, str) or not secret:
            raise ConfigError([f"client {client_id}: the secret must not be empty"])
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO clients (client_id, secret_hash, created) VALUES (?, ?, ?)"
                " ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash",
                (client_id, hash_secret(secret), self._clock()),
            )

    def check_client(self, client_id: str, secret: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT secret_hash FROM clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return verify_secret(secret, row["secret_hash"] if row else None)

    def has_client(self, client_id: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute("SELECT 1 FROM clients WHERE client_id = ?", (client_id,))
            return row.fetchone() is not None

    # -- events and services ---------------------------------------------------------
    def record_event(self, client_id: str, event: Event) -> None:
        """Store the event and update its service's summary row."""
        now = self._clock()
        svc = event.service
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO events (received, client_id, event_type, timestamp, attempt,"
                " service, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, client_id, event.event_type, event.timestamp, event.attempt,
                 json.dumps(svc), json.dumps(event.data)),
            )
            if event.event_type == "violation_detected":
                _keep_alert(conn, now, event.data)
            key = (svc["name"], svc["host"], svc["queue"])
            old = conn.execute(
                "SELECT * FROM services WHERE name = ? AND host = ? AND queue = ?", key
            ).fetchone() or {"first_seen": now, "last_heartbeat": None, "current_session": None}
            heartbeat = now if event.event_type == "heartbeat" else old["last_heartbeat"]
            conn.execute(
                "INSERT OR REPLACE INTO services (name, host, queue, version, client_id,"
                " first_seen, last_event_type, last_event_time, last_event_timestamp,"
                " last_heartbeat, current_session, stopped)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, svc["version"], client_id, old["first_seen"], event.event_type, now,
                 event.timestamp, heartbeat, _next_session(event, old["current_session"]),
                 int(event.event_type == "service_stopping")),
            )

    def events(self) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
        return [
            {"id": r["id"], "received": iso_time(r["received"]), "client_id": r["client_id"],
             "event_type": r["event_type"], "timestamp": r["timestamp"], "attempt": r["attempt"],
             "service": json.loads(r["service"]), "data": json.loads(r["data"])}
            for r in rows
        ]

    def alerts(self) -> list[dict[str, Any]]:
        """Live alerts, one per ``alert_id`` (``copies``: how many times it was received), oldest first."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM alerts ORDER BY received, alert_id").fetchall()
        return [{**json.loads(r["data"]), "received": iso_time(r["received"]), "copies": r["copies"]} for r in rows]

    def services(self, stale_after_s: float) -> list[dict[str, Any]]:
        """Every service ever heard from, with ``alive`` and ``status`` as of now, and its work
        figures: ``ok``, ``failed``, ``per_minute``, ``mean_processing_s``, ``last_error``."""
        now = self._clock()
        marks = ",".join("?" * len(ACTIVITY_EVENTS))
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM services ORDER BY queue, name, host").fetchall()
            events = conn.execute(f"SELECT received, event_type, service, data FROM events"
                                  f" WHERE event_type IN ({marks}) ORDER BY id", ACTIVITY_EVENTS).fetchall()
        activity = service_activity(events)
        return [_service_view(dict(r), now, stale_after_s, activity.get((r["name"], r["host"], r["queue"])))
                for r in rows]

    # -- sessions and results --------------------------------------------------------
    def open_session(self, token: str, lms_key: str, queue: str, session_id: str | None) -> None:
        """Remember a session before it is submitted, so its callback is never unknown."""
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO lms_sessions (token, lms_key, session_id, queue, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (token, lms_key, session_id, queue, self._clock()),
            )

    def bind_session(self, token: str, submission_id: int | None) -> None:
        """Note the submission id of a session, or forget a session that was refused."""
        with self._db.write() as conn:
            if submission_id is None:
                conn.execute("DELETE FROM lms_sessions WHERE token = ?", (token,))
            else:
                conn.execute(
                    "UPDATE lms_sessions SET submission_id = ? WHERE token = ?",
                    (submission_id, token),
                )

    def record_result(self, token: str, header: str, body: str) -> bool:
        """Store a reply delivered to a session's callback.

        False (nothing stored) for an unknown token or a header without the session's
        ``lms_key``, as an LMS refuses a callback it cannot match.
        """
        with self._db.write() as conn:
            session = conn.execute(
                "SELECT * FROM lms_sessions WHERE token = ?", (token,)
            ).fetchone()
            if session is None or _lms_key(header) != session["lms_key"]:
                return False
            conn.execute(
                "INSERT INTO results (token, session_id, queue, submission_id, received,"
                " xqueue_header, xqueue_body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token, session["session_id"], session["queue"], session["submission_id"],
                 self._clock(), header, body),
            )
        return True

    def results(self) -> list[dict[str, Any]]:
        """Every delivered result, oldest first; ``body`` is parsed when it is JSON."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM results ORDER BY id").fetchall()
        return [
            {"session_id": r["session_id"], "queue": r["queue"],
             "submission_id": r["submission_id"], "received": iso_time(r["received"]),
             "body": _parse_json(r["xqueue_body"])}
            for r in rows
        ]


def _keep_alert(conn: Any, now: float, data: dict[str, Any]) -> None:
    """A platform keeps each violation's alert once, by ``alert_id``; copies are counted."""
    ident = data.get("alert_id")
    if not isinstance(ident, str) or not ident:
        return
    conn.execute("INSERT INTO alerts (alert_id, received, session_id, data) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (alert_id) DO UPDATE SET copies = copies + 1",
                 (ident, now, str(data.get("session_id")), json.dumps(data)))


def _next_session(event: Event, current: str | None) -> str | None:
    action = _SESSION_EVENTS.get(event.event_type)
    if action == "set":
        return event.session
    return None if action == "clear" else current


def _service_view(row: dict[str, Any], now: float, stale_after_s: float,
                  activity: dict[str, Any] | None) -> dict[str, Any]:
    stopped = bool(row["stopped"])
    fresh = now - row["last_event_time"] < stale_after_s
    status = "stopped" if stopped else ("alive" if fresh else "stale")
    return {
        "name": row["name"], "queue": row["queue"], "host": row["host"],
        "version": row["version"], "client_id": row["client_id"],
        "first_seen": iso_time(row["first_seen"]), "last_event": row["last_event_type"],
        "last_event_time": iso_time(row["last_event_time"]),
        "last_event_timestamp": row["last_event_timestamp"],
        "last_heartbeat": iso_time(row["last_heartbeat"]),
        "current_session": row["current_session"], "stopped": stopped,
        "alive": status == "alive", "status": status, **_activity_view(activity or empty_activity()),
    }


def _activity_view(activity: dict[str, Any]) -> dict[str, Any]:
    error = activity["last_error"]
    if error is not None:
        error = {**error, "received": iso_time(error["received"])}
    return {**activity, "last_error": error}


def _lms_key(header: str) -> Any:
    parsed = _parse_json(header)
    return parsed.get("lms_key") if isinstance(parsed, dict) else None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
