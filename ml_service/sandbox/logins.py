"""XQueue login sessions, like Django's database sessions.

A session key is 32 random lowercase letters and digits, sent as the ``sessionid``
cookie; only its SHA-256 is stored. Sessions last two weeks (Django's default
``SESSION_COOKIE_AGE``) and survive a restart of the sandbox.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import Callable

from ml_service.sandbox.db import Database

__all__ = ["SESSION_AGE_S", "LoginSessions", "random_key"]

SESSION_AGE_S = 1209600
_ALPHABET = string.ascii_lowercase + string.digits


def random_key(length: int = 32) -> str:
    """A Django-style random key (session key, CSRF token)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class LoginSessions:
    """Create, look up and end login sessions."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def create(self, username: str) -> str:
        key = random_key()
        now = self._clock()
        with self._db.write() as conn:
            conn.execute("DELETE FROM login_sessions WHERE expires <= ?", (now,))
            conn.execute(
                "INSERT INTO login_sessions (key_hash, username, expires) VALUES (?, ?, ?)",
                (_digest(key), username, now + SESSION_AGE_S),
            )
        return key

    def user(self, key: str | None) -> str | None:
        """The user of a live session, or None."""
        if not key:
            return None
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT username FROM login_sessions WHERE key_hash = ? AND expires > ?",
                (_digest(key), self._clock()),
            ).fetchone()
        return row["username"] if row else None

    def end(self, key: str | None) -> None:
        if key:
            with self._db.write() as conn:
                conn.execute("DELETE FROM login_sessions WHERE key_hash = ?", (_digest(key),))
