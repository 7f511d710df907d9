"""The edx-submissions model behind the sandbox's ``--flavour edx-submissions``.

It behaves like edx-submissions 4.0.2's ``ExternalGraderDetail`` and ``put_result``
(``shared/XQUEUE.md`` §10, checked against the real package by ``tests/interop``):

* :meth:`EdxStore.create` is ``create_external_grader_detail``: the LMS's answer, the grader
  file name, ``points_possible`` and files stored as ``<queue>/<uuid4>`` (no extension);
* :meth:`EdxStore.pull` hands out the row with the oldest ``status_time`` that is
  ``pending`` or ``retry`` (now ``pulled``, with a fresh ``uuid4`` key), or ``pulled`` longer
  ago than the lease: that one keeps its key and its ``status_time``, so every poll gets it
  again until one answers (the first answer wins; later ones end in HTTP 500);
* :meth:`EdxStore.record` is ``set_score``: the score as the release stores it (4.0.2:
  ``round(score * points_possible)``; ``integer``: earlier releases, which take integer
  points only). A score it cannot store sets ``retry`` (``failed`` at the 5th failure) and
  still counts as a success on the wire, as the real server does.

Refusals raise :class:`EdxRefused` with the HTTP status and the real server's reply text.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Mapping

from ml_service.sandbox.counts import QueueCounts
from ml_service.sandbox.db import Database
from ml_service.sandbox.files import save_upload

__all__ = ["EdxRefused", "EdxStore", "Pulled", "score_problem"]

MAX_SCORE_UPDATE_RETRIES = 5
_SCHEMA = """
CREATE TABLE IF NOT EXISTS edx_graders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, queue_name TEXT NOT NULL, queue_key TEXT NOT NULL,
    token TEXT NOT NULL, grader_file_name TEXT NOT NULL, points_possible INTEGER NOT NULL,
    student_id TEXT NOT NULL, answer TEXT NOT NULL, files TEXT NOT NULL, created REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', status_time REAL NOT NULL, pullkey TEXT,
    num_failures INTEGER NOT NULL DEFAULT 0, grader_reply TEXT, points_earned INTEGER);
CREATE INDEX IF NOT EXISTS edx_graders_pull ON edx_graders (queue_name, status, status_time);
"""
_PULLABLE = "queue_name = ? AND (status IN ('pending', 'retry') OR (status = 'pulled' AND status_time < ?))"


class EdxRefused(Exception):
    """A refused request: ``status`` is the HTTP status, ``str(exc)`` the reply content."""

    def __init__(self, status: int, content: str) -> None:
        self.status = status
        super().__init__(content)


@dataclass(frozen=True)
class Pulled:
    """One pulled row: what get_submission puts in its reply."""

    submission_id: int
    key: str
    grader_file_name: str
    student_id: str
    created: float
    answer: str
    files: dict[str, str]


@dataclass(frozen=True)
class Stored:
    """A score recorded (or not): what the sandbox's LMS side is told."""

    token: str
    queue_key: str
    queue_name: str
    problem: str | None


class EdxStore:
    """Submissions of the edx-submissions flavour, in the sandbox database."""

    def __init__(self, db: Database, media_root: Path, clock: Callable[[], float], lease_s: float,
                 score_contract: str = "scaled") -> None:
        self._db, self.media_root, self._clock = db, Path(media_root), clock
        self._lease_s, self._contract = float(lease_s), score_contract
        with db.read() as conn:  # executescript commits by itself
            conn.executescript(_SCHEMA)

    def create(self, queue: str, answer: str, files: Mapping[str, IO[bytes]], *, queue_key: str, token: str,
               grader: str = "", points_possible: int = 1, student_id: str = "student") -> int:
        """``create_external_grader_detail``: one submission with its files; its id."""
        stored = {name: save_upload(self.media_root, queue, str(uuid.uuid4()), stream)
                  for name, stream in files.items()}
        now = self._clock()
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT INTO edx_graders (queue_name, queue_key, token, grader_file_name, points_possible,"
                " student_id, answer, files, created, status_time) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (queue, queue_key, token, grader, points_possible, student_id, answer, json.dumps(stored), now, now))
            return int(cur.lastrowid)

    def pull(self, queue: str) -> Pulled | None:
        """The next row to grade, now ``pulled`` under a new key; None if there is none."""
        now = self._clock()
        with self._db.write() as conn:
            row = conn.execute(f"SELECT * FROM edx_graders WHERE {_PULLABLE} ORDER BY status_time, id LIMIT 1",
                               (queue, now - self._lease_s)).fetchone()
            if row is None:
                return None
            key = row["pullkey"]
            if row["status"] != "pulled":  # a lapsed lease changes nothing: same key, same status_time
                key = str(uuid.uuid4())
                conn.execute("UPDATE edx_graders SET status='pulled', pullkey=?, status_time=? WHERE id=?",
                             (key, now, row["id"]))
        return Pulled(row["id"], key, row["grader_file_name"], row["student_id"], row["created"], row["answer"],
                      json.loads(row["files"]))

    def record(self, submission_id: int, key: Any, reply: str, score: Any) -> Stored:
        """put_result after its format checks: the key, then ``set_score``."""
        with self._db.write() as conn:
            row = conn.execute("SELECT * FROM edx_graders WHERE id=?", (submission_id,)).fetchone()
            if row is None:
                raise EdxRefused(404, "Submission does not exist")
            if not row["pullkey"] or key != row["pullkey"]:
                raise EdxRefused(403, "Incorrect key for submission")
            points, problem = score_problem(score, row["points_possible"], self._contract)
            if row["status"] not in ("pulled", "retry") or (row["status"] == "retry" and problem):
                # update_status raises ValueError there: the request ends in a server error
                raise EdxRefused(500, f"Invalid status transition from {row['status']}")
            if problem is None:
                conn.execute("UPDATE edx_graders SET grader_reply=?, points_earned=?, status='retired',"
                             " status_time=? WHERE id=?", (reply, points, self._clock(), submission_id))
            else:
                status = "failed" if row["num_failures"] + 1 >= MAX_SCORE_UPDATE_RETRIES else "retry"
                conn.execute("UPDATE edx_graders SET status=?, status_time=?, num_failures=num_failures+1"
                             " WHERE id=?", (status, self._clock(), submission_id))
        return Stored(row["token"], row["queue_key"], row["queue_name"], problem)

    def file_keys(self, submission_id: int) -> dict[str, str]:
        """A submission's files: filename -> path under the media root (empty if unknown)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT files FROM edx_graders WHERE id=?", (submission_id,)).fetchone()
        return json.loads(row["files"]) if row is not None else {}

    def queue_length(self, queue: str) -> int:
        """Rows a pull could hand out now (edx-submissions has no endpoint for it)."""
        with self._db.read() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM edx_graders WHERE {_PULLABLE}",
                                    (queue, self._clock() - self._lease_s)).fetchone()[0])

    def counts(self, queue: str) -> QueueCounts:
        """``queue``'s rows a pull could hand out now (as :meth:`queue_length`), rows pulled under
        a running lease, and ``retired`` rows (the score stored)."""
        leased_before = self._clock() - self._lease_s
        with self._db.read() as conn:
            waiting, pulled, answered = conn.execute(
                f"SELECT COUNT(*) FILTER (WHERE {_PULLABLE}),"
                " COUNT(*) FILTER (WHERE status = 'pulled' AND status_time >= ?),"
                " COUNT(*) FILTER (WHERE status = 'retired') FROM edx_graders WHERE queue_name = ?",
                (queue, leased_before, leased_before, queue)).fetchone()
        return QueueCounts(int(waiting), int(pulled), int(answered))

    def unretired(self) -> int:
        """Submissions not ``retired`` yet (pending, pulled, retry or failed), in every queue."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM edx_graders WHERE status != 'retired'").fetchone()[0])

    def submission(self, submission_id: int) -> dict[str, Any] | None:
        """Every stored column of one submission (for tests)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM edx_graders WHERE id=?", (submission_id,)).fetchone()
        return dict(row) if row else None


def score_problem(score: Any, points_possible: int, contract: str) -> tuple[int | None, str | None]:
    """``(points stored, None)``, or ``(None, the serializer's complaint)`` when set_score fails."""
    if score is None:
        return None, "This field may not be null."
    if not isinstance(score, (int, float)) or not math.isfinite(score):
        return None, "A valid integer is required."
    if contract == "scaled":
        score = round(score * points_possible)
    elif isinstance(score, bool) or not float(score).is_integer():
        return None, "A valid integer is required."
    if score < 0:
        return None, "Ensure this value is greater than or equal to 0."
    return int(score), None
