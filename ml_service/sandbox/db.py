"""The sandbox's SQLite database: schema and short transactions.

Every call opens its own connection (the servers run one thread per request), in WAL mode
so readers never wait. Writers use ``BEGIN IMMEDIATE``: the write lock is taken before the
first read, so a read-then-update (a pull, a key check) is atomic across threads and even
across processes sharing the state dir (``sandbox add-client`` while a server runs).
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["Database"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_name TEXT NOT NULL,
    requester_id TEXT NOT NULL DEFAULT '',
    lms_callback_url TEXT NOT NULL,
    xqueue_header TEXT NOT NULL,
    xqueue_body TEXT NOT NULL,
    file_keys TEXT NOT NULL DEFAULT '{}',
    arrival_time REAL NOT NULL,
    pull_time REAL,
    pullkey TEXT,
    grader_id TEXT,
    return_time REAL,
    grader_reply TEXT,
    num_failures INTEGER NOT NULL DEFAULT 0,
    lms_ack INTEGER NOT NULL DEFAULT 0,
    retired INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS submissions_pending
    ON submissions (queue_name, retired, arrival_time);
CREATE INDEX IF NOT EXISTS submissions_callback ON submissions (lms_callback_url, retired);
CREATE TABLE IF NOT EXISTS login_sessions (
    key_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    client_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    service TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS services (
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    queue TEXT NOT NULL,
    version TEXT NOT NULL,
    client_id TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_event_type TEXT NOT NULL,
    last_event_time REAL NOT NULL,
    last_event_timestamp TEXT NOT NULL,
    last_heartbeat REAL,
    current_session TEXT,
    stopped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, host, queue)
);
CREATE TABLE IF NOT EXISTS lms_sessions (
    token TEXT PRIMARY KEY,
    lms_key TEXT NOT NULL,
    session_id TEXT,
    queue TEXT NOT NULL,
    submission_id INTEGER,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL,
    session_id TEXT,
    queue TEXT NOT NULL,
    submission_id INTEGER,
    received REAL NOT NULL,
    xqueue_header TEXT NOT NULL,
    xqueue_body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    received REAL NOT NULL,
    session_id TEXT,
    data TEXT NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1
);
"""


class Database:
    """One SQLite file; hands out short-lived connections inside transactions."""

    def __init__(self, path: Path, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout_s = timeout_s
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(f"BEGIN;{_SCHEMA}COMMIT;")
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: safe, durable but for power loss
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (WAL: a consistent snapshot per statement)."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()
