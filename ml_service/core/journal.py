"""Durable journal of work in flight, in SQLite under the state directory.

A job is recorded when pulled (``running``), when its result is computed (``computed``),
and when put_result succeeds (``delivered``). A result that XQueue refused with a stale
key is kept (``lease_lost``) and sent at once when the submission comes back; a result
that could not be sent (XQueue down) stays ``computed`` and is retried with backoff, also
after a restart. A result whose put_result was in flight when the worker died (``delivering``) is never
resent blindly: XQueue re-offers it if the answer did not land. ``running`` rows whose owner process is gone were interrupted (the worker
was killed) and are found by :meth:`Journal.orphans` at start-up. Status events that could
not be sent live in the ``outbox`` table (at most :data:`OUTBOX_MAX` per worker).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ml_service.core.submission import Pulled

__all__ = ["Journal", "JobRow", "content_hash"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    queue TEXT NOT NULL, submission_id INTEGER NOT NULL, content_hash TEXT NOT NULL,
    header TEXT NOT NULL, body TEXT NOT NULL, files TEXT NOT NULL,
    state TEXT NOT NULL, owner TEXT NOT NULL, runs INTEGER NOT NULL DEFAULT 0,
    pulled_at REAL NOT NULL, heartbeat_at REAL NOT NULL,
    result TEXT, msg TEXT, computed_at REAL, delivered_at REAL,
    deliver_attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL,
    PRIMARY KEY (queue, submission_id));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, event_type TEXT NOT NULL,
    data TEXT NOT NULL, timestamp REAL NOT NULL, attempt INTEGER NOT NULL DEFAULT 1);
"""
_DONE = ("computed", "delivering", "lease_lost", "delivered")
_VERSION = 1
OUTBOX_MAX = 1000  # unsent status events kept per worker
_LIVE_OWNERS: set[str] = set()  # journals open in this process (threads share our pid)


def content_hash(pulled: Pulled) -> str:
    """What identifies a submission's content, whatever key it was pulled with."""
    text = json.dumps([pulled.body, pulled.files], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class JobRow:
    """One journal row, as read."""

    queue: str
    submission_id: int
    header: str
    body: str
    files: dict[str, str]
    state: str
    owner: str
    runs: int
    result: dict[str, Any] | None
    msg: str | None
    deliver_attempts: int

    def pulled(self) -> Pulled:
        header = json.loads(self.header)
        return Pulled(header=self.header, submission_id=self.submission_id,
                      submission_key=str(header.get("submission_key") or ""), body=self.body, files=self.files)


class Journal:
    """SQLite-backed record of jobs and unsent events; safe to share between threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, owner: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.clock = path, clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._lock = threading.Lock()
        _LIVE_OWNERS.add(self.owner)

    def _migrate(self) -> None:
        """Bring an older journal file up to this version's schema."""
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _VERSION:
            raise RuntimeError(f"journal {self.path} is from a newer ml-service (schema {version})")
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(outbox)")}
        if "owner" not in columns:  # schema 0 kept one outbox for all workers
            self._db.execute("ALTER TABLE outbox ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        self._db.execute(f"PRAGMA user_version={_VERSION}")

    def close(self) -> None:
        _LIVE_OWNERS.discard(self.owner)
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def begin(self, queue: str, pulled: Pulled, live_after_s: float) -> tuple[str, JobRow | None]:
        """Record a pull and say what to do: ``analyse``, ``reuse`` (a kept result) or ``wait``.

        ``wait`` means another live worker is analysing the same content right now.
        """
        digest, now = content_hash(pulled), self.clock()
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE queue=? AND submission_id=?",
                             (queue, pulled.submission_id)).fetchone()
            if row is not None and row["content_hash"] == digest:
                if row["state"] in _DONE:
                    db.execute("UPDATE jobs SET header=? WHERE queue=? AND submission_id=?",
                               (pulled.header, queue, pulled.submission_id))
                    return "reuse", _row(row, header=pulled.header)
                if (row["state"] == "running" and row["owner"] != self.owner
                        and now - row["heartbeat_at"] < live_after_s
                        and not _owner_dead(row["owner"], socket.gethostname())):
                    return "wait", _row(row)
            db.execute(
                "INSERT OR REPLACE INTO jobs (queue, submission_id, content_hash, header, body, files,"
                " state, owner, runs, pulled_at, heartbeat_at) VALUES (?,?,?,?,?,?,'running',?,?,?,?)",
                (queue, pulled.submission_id, digest, pulled.header, pulled.body, json.dumps(pulled.files),
                 self.owner, (row["runs"] if row is not None and row["content_hash"] == digest else 0) + 1,
                 now, now))
        return "analyse", None

    def get(self, queue: str, submission_id: int) -> JobRow | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE queue=? AND submission_id=?",
                                   (queue, submission_id)).fetchone()
        return _row(row) if row is not None else None

    def touch(self, queue: str, submission_id: int) -> None:
        """Refresh the heartbeat of a running job (so others see it is live)."""
        self._set(queue, submission_id, "heartbeat_at=?", self.clock())

    def computed(self, queue: str, submission_id: int, result: dict[str, Any], msg: str) -> None:
        """Keep a result; it becomes due for a retry only when a delivery attempt fails."""
        self._set(queue, submission_id, "state='computed', result=?, msg=?, computed_at=?, next_attempt_at=NULL",
                  json.dumps(result), msg, self.clock())

    def delivering(self, queue: str, submission_id: int) -> None:
        """A put_result is in flight. If the worker dies now, nobody knows whether it landed,
        so the row is never resent blindly: XQueue re-offers it if it did not, and the
        re-offer is answered from the journal."""
        self._set(queue, submission_id, "state='delivering'")

    def delivered(self, queue: str, submission_id: int) -> None:
        self._set(queue, submission_id, "state='delivered', delivered_at=?", self.clock())

    def lease_lost(self, queue: str, submission_id: int) -> None:
        self._set(queue, submission_id, "state='lease_lost'")

    def refused(self, queue: str, submission_id: int) -> None:
        self._set(queue, submission_id, "state='refused'")

    def handed_back(self, queue: str, submission_id: int) -> None:
        self._set(queue, submission_id, "state='handed_back'")

    def delivery_failed(self, queue: str, submission_id: int, retry_in_s: float) -> None:
        """The put_result surely failed (no answer): retry from the journal later."""
        self._set(queue, submission_id,
                  "state='computed', deliver_attempts=deliver_attempts+1, next_attempt_at=?",
                  self.clock() + retry_in_s)

    def _set(self, queue: str, submission_id: int, assignments: str, *values: Any) -> None:
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {assignments} WHERE queue=? AND submission_id=?",  # noqa: S608
                       (*values, queue, submission_id))

    def due_deliveries(self, queue: str) -> list[JobRow]:
        """Claim the undelivered results whose retry is due (they become ``delivering``).

        Claiming in one transaction means workers sharing the journal never send the
        same result at the same time.
        """
        now = self.clock()
        with self._tx() as db:
            rows = db.execute("SELECT * FROM jobs WHERE queue=? AND state='computed' AND next_attempt_at<=?"
                              " ORDER BY computed_at", (queue, now)).fetchall()
            db.executemany("UPDATE jobs SET state='delivering' WHERE queue=? AND submission_id=?",
                           [(queue, r["submission_id"]) for r in rows])
        return [_row(r) for r in rows]

    def orphans(self, queue: str, stale_after_s: float) -> list[JobRow]:
        """Running jobs whose owner is gone: this host's dead processes, or silent too long."""
        host = socket.gethostname()
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE queue=? AND state='running' AND owner!=?",
                                    (queue, self.owner)).fetchall()
        now = self.clock()
        return [_row(r) for r in rows
                if _owner_dead(r["owner"], host) or now - r["heartbeat_at"] > stale_after_s]

    def prune(self, older_than_s: float) -> int:
        """Forget delivered jobs older than ``older_than_s``; return how many."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM jobs WHERE state='delivered' AND delivered_at<?",
                             (self.clock() - older_than_s,))
        return cur.rowcount

    # -- the status-event outbox (see ml_service.core.events) --

    def outbox_add(self, event_type: str, data: dict[str, Any], timestamp: float) -> None:
        """Keep one unsent event; past :data:`OUTBOX_MAX` the oldest heartbeat (else event) goes."""
        with self._tx() as db:
            db.execute("INSERT INTO outbox (owner, event_type, data, timestamp) VALUES (?,?,?,?)",
                       (self.owner, event_type, json.dumps(data), timestamp))
            if db.execute("SELECT COUNT(*) FROM outbox WHERE owner=?", (self.owner,)).fetchone()[0] > OUTBOX_MAX:
                db.execute("DELETE FROM outbox WHERE id = (SELECT id FROM outbox WHERE owner=?"
                           " ORDER BY event_type != 'heartbeat', id LIMIT 1)", (self.owner,))

    def outbox_items(self) -> list[tuple[int, str, dict[str, Any], float, int]]:
        """This worker's unsent events, after adopting those of dead workers on this host."""
        host = socket.gethostname()
        with self._tx() as db:
            owners = [r[0] for r in db.execute("SELECT DISTINCT owner FROM outbox WHERE owner!=?", (self.owner,))]
            for dead in (o for o in owners if _owner_dead(o, host)):
                db.execute("UPDATE outbox SET owner=? WHERE owner=?", (self.owner, dead))
            rows = db.execute("SELECT * FROM outbox WHERE owner=? ORDER BY id", (self.owner,)).fetchall()
        return [(r["id"], r["event_type"], json.loads(r["data"]), r["timestamp"], r["attempt"]) for r in rows]

    def outbox_done(self, item_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE id=?", (item_id,))

    def outbox_retry(self, item_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE outbox SET attempt=attempt+1 WHERE id=?", (item_id,))


def _row(row: sqlite3.Row, header: str | None = None) -> JobRow:
    return JobRow(
        queue=row["queue"], submission_id=row["submission_id"], header=header or row["header"],
        body=row["body"], files=json.loads(row["files"]), state=row["state"], owner=row["owner"],
        runs=row["runs"], result=json.loads(row["result"]) if row["result"] else None, msg=row["msg"],
        deliver_attempts=row["deliver_attempts"])


def _owner_dead(owner: str, host: str) -> bool:
    """True when the owner ran on this host and its process is gone.

    An owner with our own pid but another token is an earlier incarnation (a container's
    worker is pid 1 after every restart), so it is dead too.
    """
    owner_host, pid, _token = (owner.rsplit(":", 2) + ["", ""])[:3]
    if owner in _LIVE_OWNERS or owner_host != host or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
