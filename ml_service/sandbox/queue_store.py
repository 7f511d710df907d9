"""The XQueue model: submissions, files, the pull lease, reply keys and LMS delivery state.

It behaves like openedx/xqueue's ``Submission`` model and views (``XQUEUE.md`` §3–6):

* ``submit`` checks the LMS header, retires earlier unretired submissions with the same
  ``lms_callback_url`` (truncated to 128 characters), stores file parts under
  ``<media_root>/<queue>/<md5(header + filename)>`` and answers the queue length.
* ``pull`` hands out the oldest pending submission and stamps it with the pull time and a
  fresh key; it stays hidden while ``pull_time`` is younger than ``processing_delay_s``.
* ``accept_reply`` checks the latest key; ``record_delivery`` retires on LMS success and
  counts failures otherwise, retiring after more than ``max_failures``.

Refusals raise :class:`Refused` carrying the real server's exact reply text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping

from ml_service.sandbox.counts import QueueCounts
from ml_service.sandbox.db import Database
from ml_service.sandbox.files import save_upload

__all__ = ["Delivery", "PulledItem", "QueueStore", "Refused", "make_hashkey"]

INVALID_FORMAT = "Queue request has invalid format"
_PENDING = "queue_name = ? AND retired = 0 AND (pull_time IS NULL OR pull_time <= ?)"
_CALLBACK_LIMIT = 128


class Refused(Exception):
    """An XQueue request refused; ``str(exc)`` is the reply ``content``."""


@dataclass(frozen=True)
class PulledItem:
    """One pulled submission; ``file_keys`` maps filename -> path under the media root."""

    submission_id: int
    key: str
    body: str
    file_keys: dict[str, str]


@dataclass(frozen=True)
class Delivery:
    """A reply accepted for a submission, to be posted to the LMS callback."""

    submission_id: int
    lms_header: str
    callback_url: str
    reply: str


def make_hashkey(seed: str) -> str:
    """xqueue's ``make_hashkey``: the MD5 hex digest of ``seed``."""
    return hashlib.md5(seed.encode("utf-8")).hexdigest()


class QueueStore:
    """Submissions of every configured queue, kept in the sandbox database."""

    def __init__(
        self,
        db: Database,
        media_root: Path,
        queues: Iterable[str],
        clock: Callable[[], float],
        processing_delay_s: float,
        max_failures: int = 3,
    ) -> None:
        self._db = db
        self.media_root = Path(media_root)
        self.queues = list(queues)
        self._clock = clock
        self._delay = float(processing_delay_s)
        self._max_failures = max_failures

    def has_queue(self, name: str) -> bool:
        return name in self.queues

    def queue_length(self, queue: str) -> int:
        """Unretired submissions of ``queue`` that are not leased right now."""
        with self._db.read() as conn:
            return _length(conn, queue, self._clock() - self._delay)

    def counts(self, queue: str) -> QueueCounts:
        """``queue``'s waiting (as :meth:`queue_length`), leased and delivered submissions."""
        leased_before = self._clock() - self._delay
        with self._db.read() as conn:
            waiting = _length(conn, queue, leased_before)
            pulled, answered = conn.execute(
                "SELECT COUNT(*) FILTER (WHERE retired = 0 AND pull_time > ?),"
                " COUNT(*) FILTER (WHERE retired = 1 AND lms_ack = 1) FROM submissions WHERE queue_name = ?",
                (leased_before, queue)).fetchone()
        return QueueCounts(waiting, int(pulled), int(answered))

    def submit(
        self, header: str, body: str, files: Mapping[str, IO[bytes]], requester: str = ""
    ) -> tuple[int, int]:
        """Queue one LMS submission; return ``(submission_id, queue length)``."""
        lms = _parse_lms_header(header)
        queue = str(lms["queue_name"])
        if not self.has_queue(queue):
            raise Refused(f"Queue '{queue}' not found")
        callback = str(lms["lms_callback_url"])[:_CALLBACK_LIMIT]
        keys = {name: save_upload(self.media_root, queue, make_hashkey(header + name), f)
                for name, f in files.items()}
        now = self._clock()
        with self._db.write() as conn:
            conn.execute(
                "UPDATE submissions SET retired = 1 WHERE lms_callback_url = ? AND retired = 0",
                (callback,),
            )
            cur = conn.execute(
                "INSERT INTO submissions (queue_name, requester_id, lms_callback_url,"
                " xqueue_header, xqueue_body, file_keys, arrival_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (queue, requester, callback, header, body, json.dumps(keys), now),
            )
            return int(cur.lastrowid), _length(conn, queue, now - self._delay)

    def file_keys(self, submission_id: int) -> dict[str, str]:
        """A submission's files: filename -> path under the media root (empty if unknown)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT file_keys FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        return json.loads(row["file_keys"]) if row is not None else {}

    def pull(self, queue: str, grader_id: str = "") -> PulledItem | None:
        """Lease the oldest pending submission of ``queue`` to the caller, or None."""
        now = self._clock()
        with self._db.write() as conn:
            row = conn.execute(
                f"SELECT id, xqueue_body, file_keys, pullkey FROM submissions WHERE {_PENDING}"
                " ORDER BY arrival_time, id LIMIT 1",
                (queue, now - self._delay),
            ).fetchone()
            if row is None:
                return None
            key = _pull_key(now, row["id"], row["pullkey"])
            conn.execute(
                "UPDATE submissions SET pull_time = ?, pullkey = ?, grader_id = ? WHERE id = ?",
                (now, key, grader_id, row["id"]),
            )
        return PulledItem(row["id"], key, row["xqueue_body"], json.loads(row["file_keys"]))

    def accept_reply(self, submission_id: int, key: Any, reply: str) -> Delivery:
        """Check the key of a grader's reply and store it; return what to send the LMS."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT pullkey, xqueue_header FROM submissions WHERE id = ?", (submission_id,)
            ).fetchone()
            if row is None:
                raise Refused("Submission does not exist")
            if not row["pullkey"] or not _same_key(key, row["pullkey"]):
                raise Refused("Incorrect key for submission")
            conn.execute(
                "UPDATE submissions SET return_time = ?, grader_reply = ? WHERE id = ?",
                (self._clock(), reply, submission_id),
            )
        url = str(json.loads(row["xqueue_header"])["lms_callback_url"])
        return Delivery(submission_id, row["xqueue_header"], url, reply)

    def record_delivery(self, submission_id: int, delivered: bool) -> None:
        """LMS accepted: retire. LMS failed: count it; retire after too many failures."""
        with self._db.write() as conn:
            if delivered:
                conn.execute(
                    "UPDATE submissions SET lms_ack = 1, retired = 1 WHERE id = ?", (submission_id,)
                )
                return
            conn.execute(
                "UPDATE submissions SET lms_ack = 0, num_failures = num_failures + 1,"
                " retired = CASE WHEN num_failures + 1 > ? THEN 1 ELSE retired END WHERE id = ?",
                (self._max_failures, submission_id),
            )

    def unretired(self) -> int:
        """Submissions not retired yet, in every queue."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM submissions WHERE retired = 0").fetchone()[0])

    def submission(self, submission_id: int) -> dict[str, Any] | None:
        """Every stored column of one submission (for tests and the status page)."""
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,))
            row = row.fetchone()
        return dict(row) if row else None


def _length(conn: Any, queue: str, leased_before: float) -> int:
    row = conn.execute(f"SELECT COUNT(*) FROM submissions WHERE {_PENDING}", (queue, leased_before))
    return int(row.fetchone()[0])


def _parse_lms_header(header: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(header)
    except (TypeError, ValueError) as exc:
        raise Refused(INVALID_FORMAT) from exc
    if not isinstance(parsed, dict):
        raise Refused(INVALID_FORMAT)
    if any(tag not in parsed for tag in ("lms_callback_url", "lms_key", "queue_name")):
        raise Refused(INVALID_FORMAT)
    return parsed


def _pull_key(now: float, submission_id: int, previous: str | None) -> str:
    """MD5 of pull time + id, as xqueue does; never equal to the previous key."""
    pull_time = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    key = make_hashkey(f"{pull_time}{submission_id}")
    return make_hashkey(f"{pull_time}{submission_id}{previous}") if key == previous else key


def _same_key(given: Any, stored: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), stored.encode())
