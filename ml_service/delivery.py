"""Delivering results to XQueue, with the journal as the safety net.

:meth:`Delivery.deliver` tries put_result a few times; a result XQueue cannot take now
(server down) stays in the journal and :meth:`Delivery.retry_due` sends it later with
backoff, also after a restart. A refusal with "Incorrect key for submission" means the
lease was lost: the result is kept and answered at once when XQueue re-offers the
submission. Each outcome is a :class:`Delivered` value the worker reports on.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Callable

from ml_service import metrics
from ml_service.backoff import Backoff, compute_backoff
from ml_service.errors import LeaseLostError, MLServiceError, TransportError
from ml_service.events import EventOutbox
from ml_service.job import Outcome
from ml_service.journal import Journal, JobRow
from ml_service.results import xqueue_reply
from ml_service.submission import Pulled
from ml_service.xqueue import XQueueClient

__all__ = ["Delivered", "Delivery"]

logger = logging.getLogger(__name__)

_REMEDY = ("the analysis outlasted XQueue's SUBMISSION_PROCESSING_DELAY and the submission was "
           "re-offered with a new key; the result is kept and sent when it comes back. Remedy: "
           "raise SUBMISSION_PROCESSING_DELAY on the XQueue server")


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
                 cap_s: float = 60.0) -> None:
        self.xqueue, self.journal, self.queue, self.outbox = xqueue, journal, queue, outbox
        self.wait, self.attempts, self.base_s, self.cap_s = wait, attempts, base_s, cap_s
        self._lease_warned = False

    def deliver(self, pulled: Pulled, outcome: Outcome) -> Delivered:
        """Send a computed (and journalled) result; retry transport errors a few times."""
        body = xqueue_reply(outcome.result, outcome.msg)
        retry = Backoff(self.base_s, self.cap_s)
        for attempt in range(1, self.attempts + 1):
            status = self._put(pulled.submission_id, pulled.header, body)
            if status is not Delivered.DEFERRED or attempt == self.attempts:
                break
            if self.wait(retry.next_delay()):
                break
        if status is Delivered.OK:
            logger.info("Answered submission %s (error_code %s, score %.2f)", pulled.submission_id,
                        outcome.result["error_code"], outcome.result["score"])
        elif status is Delivered.DEFERRED:
            self.journal.delivery_failed(self.queue, pulled.submission_id, retry.next_delay())
        return status

    def retry_due(self) -> int:
        """Send journalled results whose retry time has come; return how many went out."""
        sent = 0
        rows = self.journal.due_deliveries(self.queue)
        for row in rows:
            status = self._put(row.submission_id, row.header, xqueue_reply(row.result, row.msg))
            if status is Delivered.DEFERRED:
                delay = compute_backoff(row.deliver_attempts + 1, self.base_s, self.cap_s)
                self.journal.delivery_failed(self.queue, row.submission_id, delay)
                for rest in rows[rows.index(row) + 1:]:  # XQueue is still down: try the rest later
                    self.journal.delivery_failed(self.queue, rest.submission_id, delay)
                break
            self._report_late(row, status)
            sent += status is Delivered.OK
        return sent

    def _put(self, submission_id: int, header: str, body: str) -> Delivered:
        self.journal.delivering(self.queue, submission_id)
        try:
            self.xqueue.put_result(header, body)
        except LeaseLostError:
            metrics.lease_lost(self.queue)
            self.journal.lease_lost(self.queue, submission_id)
            self._warn_lease_lost(submission_id)
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
        else:
            self.outbox.post("session_processing_failed", {**data, "reason": status.value})

    def _warn_lease_lost(self, submission_id: int) -> None:
        if not self._lease_warned:
            logger.warning("Lost the lease on submission %s: %s", submission_id, _REMEDY)
            self._lease_warned = True
        else:
            logger.info("Lost the lease on submission %s (see the earlier warning)", submission_id)
