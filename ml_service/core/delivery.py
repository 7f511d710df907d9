"""Delivering results to XQueue, with the journal as the safety net.

:meth:`Delivery.deliver` tries put_result a few times; a result XQueue cannot take now
(server down) stays in the journal and :meth:`Delivery.retry_due` sends it later with
backoff, also after a restart. A refusal with "Incorrect key for submission" means the
lease was lost: the result is kept and answered at once when XQueue re-offers the
submission; the log says why it was lost (a concurrent pull, or an analysis longer than the
lease), and it is no failure. The score sent is the one the server stores
(:class:`ml_service.core.flavour.ScorePolicy`). Each outcome is a :class:`Delivered` value the
worker reports on.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Callable

from ml_service.core import metrics
from ml_service.core.backoff import Backoff, compute_backoff
from ml_service.core.errors import LeaseLostError, MLServiceError, TransportError
from ml_service.core.events import EventOutbox
from ml_service.core.flavour import Flavour, ScorePolicy, lease_s
from ml_service.core.job import Outcome
from ml_service.core.journal import Journal, JobRow
from ml_service.core.results import ErrorCode, error_result, xqueue_reply
from ml_service.core.submission import Pulled
from ml_service.core.xqueue import XQueueClient

__all__ = ["Delivered", "Delivery"]

logger = logging.getLogger(__name__)

_KEPT = "the result is kept and sent at once if the submission comes back"
_GRADED = ("edx-submissions answered HTTP 500, as it does to an answer for a submission that is graded already "
           "(once its 5-minute lease lapses it hands the submission, with the same key, to every poll until one "
           "answers), or when it failed; not retried")


class Delivered(Enum):
    """What became of one put_result."""

    OK = "delivered"
    LEASE_LOST = "lease lost; result kept for the re-offer"
    DEFERRED = "XQueue unreachable; result kept and retried from the journal"
    REFUSED = "XQueue refused the result"


class Delivery:
    """put_result for one queue, backed by the journal."""

    def __init__(self, xqueue: XQueueClient, journal: Journal, queue: str, outbox: EventOutbox,
                 wait: Callable[[float], bool], attempts: int = 3, base_s: float = 1.0,
                 cap_s: float = 60.0, policy: ScorePolicy = ScorePolicy(),
                 lease_s: float | None = None) -> None:
        self.xqueue, self.journal, self.queue, self.outbox = xqueue, journal, queue, outbox
        self.wait, self.attempts, self.base_s, self.cap_s = wait, attempts, base_s, cap_s
        self.policy, self.lease_s = policy, lease_s
        self._lease_warned: set[str] = set()
        self._announced = False

    def deliver(self, pulled: Pulled, outcome: Outcome, held_s: float | None = None) -> Delivered:
        """Send a computed (and journalled) result; retry transport errors a few times.

        ``held_s``: how long ago this key was pulled (says why a lease was lost).
        """
        retry = Backoff(self.base_s, self.cap_s)
        for attempt in range(1, self.attempts + 1):
            status = self._put(pulled.submission_id, pulled.header, outcome.result, outcome.msg, held_s)
            if status is not Delivered.DEFERRED or attempt == self.attempts:
                break
            if self.wait(retry.next_delay()):
                break
        if status is Delivered.OK:
            logger.info("Answered submission %s (error_code %s, trust score %.2f)", pulled.submission_id,
                        outcome.result["error_code"], outcome.result["score"])
        elif status is Delivered.DEFERRED:
            self.journal.delivery_failed(self.queue, pulled.submission_id, retry.next_delay())
        return status

    def retry_due(self) -> int:
        """Send journalled results whose retry time has come; return how many went out."""
        sent = 0
        rows = self.journal.due_deliveries(self.queue)
        for row in rows:
            status = self._put(row.submission_id, row.header, row.result or {}, row.msg or "", None)
            if status is Delivered.DEFERRED:
                delay = compute_backoff(row.deliver_attempts + 1, self.base_s, self.cap_s)
                self.journal.delivery_failed(self.queue, row.submission_id, delay)
                for rest in rows[rows.index(row) + 1:]:  # XQueue is still down: try the rest later
                    self.journal.delivery_failed(self.queue, rest.submission_id, delay)
                break
            self._report_late(row, status)
            sent += status is Delivered.OK
        return sent

    def not_stored(self, pulled: Pulled, row: JobRow) -> Outcome:
        """The server offers again a submission it accepted our answer for: it did not keep it.

        edx-submissions could not record the score (its set_score failed): the re-offer is
        answered with error 11, which every release stores. openedx/xqueue could not deliver it
        to the LMS callback: the kept answer is sent again. Either way: a log line, a metric,
        and a note in the final status event.
        """
        metrics.not_stored(self.queue)
        result, msg = row.result or {}, row.msg or ""
        flavour = self.xqueue.server_flavour()
        if flavour is Flavour.XQUEUE:
            note = "XQueue accepted the answer but offered the submission again: its callback to the LMS failed"
            logger.warning("Submission %s: %s; sending the kept answer again", pulled.submission_id, note)
            return Outcome(result, msg, result.get("session_id"), note=note)
        sent = self.policy.wire_score(result, flavour) if result else None
        note = (f"edx-submissions accepted the answer (score {sent!r}, ML_XQUEUE_SCORE "
                f"{self.policy.describe(flavour)}) but offered the submission again: it did not store the score "
                "(see the server's log for set_score)")
        logger.error("Submission %s: %s; answering with error %d", pulled.submission_id, note, ErrorCode.NOT_STORED)
        failed = {**error_result(self.queue, ErrorCode.NOT_STORED, note), "submission_id": pulled.submission_id,
                  "session_id": result.get("session_id")}
        return Outcome(failed, note, result.get("session_id"), note=note)

    def body(self, result: dict[str, Any], msg: str) -> str:
        """The put_result body, with the score in the form the server stores."""
        flavour = self.xqueue.server_flavour()
        if not self._announced:
            self._announced = True
            logger.info("Answers to %s carry the score as %s (ML_XQUEUE_SCORE)", flavour.value,
                        self.policy.describe(flavour))
        return xqueue_reply(result, msg, self.policy.wire_score(result, flavour))

    def _put(self, submission_id: int, header: str, result: dict[str, Any], msg: str,
             held_s: float | None) -> Delivered:
        self.journal.delivering(self.queue, submission_id)
        try:
            self.xqueue.put_result(header, self.body(result, msg))
        except LeaseLostError as exc:
            metrics.lease_lost(self.queue)
            self.journal.lease_lost(self.queue, submission_id)
            self._warn_lease_lost(submission_id, None if exc.graded else held_s, exc.graded)
            return Delivered.LEASE_LOST
        except TransportError as exc:
            logger.warning("Could not deliver the result of submission %s: %s", submission_id, exc)
            return Delivered.DEFERRED
        except MLServiceError as exc:
            logger.error("XQueue refused the result of submission %s: %s", submission_id, exc)
            self.journal.refused(self.queue, submission_id)
            return Delivered.REFUSED
        self.journal.delivered(self.queue, submission_id)
        return Delivered.OK

    def _report_late(self, row: JobRow, status: Delivered) -> None:
        data = {"submission_id": row.submission_id, "queue": self.queue, "delivered": status.value,
                "session_id": (row.result or {}).get("session_id"), "late": True}
        if status is Delivered.OK:
            metrics.answered(row.result["error_code"], row.result.get("processing_time_s", 0.0), self.queue)
            logger.info("Delivered the journalled result of submission %s", row.submission_id)
            self.outbox.post("session_processing_end", {**data, "result": row.result})
        elif status is Delivered.REFUSED:  # a lost lease is no failure: whoever answers reports
            self.outbox.post("session_processing_failed", {**data, "reason": status.value})

    def _warn_lease_lost(self, submission_id: int, held_s: float | None, graded: bool) -> None:
        """Say what happened, once per cause at WARNING, then at INFO."""
        flavour = self.xqueue.flavour or Flavour.XQUEUE
        cause, text = (("graded", _GRADED) if graded else
                       lease_lost_reason(held_s, lease_s(flavour, self.lease_s), flavour))
        if cause not in self._lease_warned:
            self._lease_warned.add(cause)
            logger.warning("Lost the lease on submission %s: %s; %s", submission_id, text, _KEPT)
        else:
            logger.info("Lost the lease on submission %s: %s", submission_id, text)


def lease_lost_reason(held_s: float | None, lease: float, flavour: Flavour) -> tuple[str, str]:
    """``(cause, explanation)`` of an "Incorrect key for submission" after holding a key ``held_s``."""
    if held_s is None:
        return "late", ("the key changed while the result waited (XQueue unreachable, or the worker restarted "
                        "mid-job), and the submission was offered again meanwhile")
    if held_s < lease:
        return "concurrent", (f"our key was replaced {held_s:.0f} s after our pull, inside the server's "
                              f"{lease:.0f} s lease: another worker pulled the same submission (openedx/xqueue can "
                              "hand one submission to two pollers at once), or the server's lease is shorter than "
                              "ML_XQUEUE_LEASE_S says; raising the delay would not help")
    remedy = ("raise SUBMISSION_PROCESSING_DELAY on the XQueue server" if flavour is Flavour.XQUEUE else
              "edx-submissions' lease is fixed at 5 minutes, so give the worker more CPU or shorter recordings")
    return "delay", (f"the analysis held it {held_s:.0f} s, longer than the server's {lease:.0f} s lease "
                     f"(ML_XQUEUE_LEASE_S), so it was offered again. Remedy: {remedy}")
