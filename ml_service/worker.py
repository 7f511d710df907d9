"""The worker loop: pull, announce, analyse, answer, report — until told to stop.

``run()`` repeats ``run_once()``. An empty queue backs off quietly up to a cap; a server
that is down backs off exponentially with jitter; nothing in the loop crashes the worker.
Every pulled submission ends in one answer (a result or an error result) and one final
status event, by the structure of :meth:`Worker.process`. ``request_stop()`` (called by
the signal handler) lets the current job finish within the grace period, then the worker
sends ``service_stopping`` and returns.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ml_service.backoff import Backoff
from ml_service.errors import LeaseLostError, MLServiceError, TransportError
from ml_service.events import EventOutbox
from ml_service.job import Outcome
from ml_service.results import ErrorCode, error_result, xqueue_reply
from ml_service.submission import Pulled
from ml_service.xqueue import XQueueClient

__all__ = ["Worker", "WorkerTiming"]

logger = logging.getLogger(__name__)

Analyse = Callable[[Pulled], Outcome]


@dataclass(frozen=True)
class WorkerTiming:
    """The loop's waits, in seconds."""

    poll_interval_s: float = 1.0
    poll_max_interval_s: float = 10.0
    backoff_max_s: float = 60.0
    heartbeat_s: float = 30.0
    shutdown_grace_s: float = 30.0
    put_attempts: int = 5


class Worker:
    """Pulls from one queue and answers every submission it pulls."""

    def __init__(self, xqueue: XQueueClient, queue: str, analyse: Analyse, outbox: EventOutbox,
                 timing: WorkerTiming = WorkerTiming(), clock: Callable[[], float] = time.monotonic,
                 stop_event: threading.Event | None = None,
                 wait: Callable[[float], bool] | None = None) -> None:
        self.xqueue, self.queue, self.analyse, self.outbox = xqueue, queue, analyse, outbox
        self.timing, self.clock = timing, clock
        self.stop_event = stop_event or threading.Event()
        self._wait = wait or self.stop_event.wait
        self.idle = Backoff(timing.poll_interval_s, timing.poll_max_interval_s)
        self.trouble = Backoff(timing.poll_interval_s, timing.backoff_max_s)
        self.jobs_done = 0
        self.current: Pulled | None = None
        self._last_heartbeat = float("-inf")
        self._lost_lease_logged = False

    def request_stop(self) -> None:
        """Ask the loop to stop after the current job (safe from a signal handler)."""
        self.stop_event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True if a stop was requested meanwhile."""
        return self._wait(seconds)

    def run(self, max_jobs: int | None = None, burst: bool = False) -> int:
        """Loop until stopped (or ``max_jobs`` done, or the queue is empty in burst mode)."""
        self.outbox.post("service_started", {"queue": self.queue})
        try:
            while not self.stop_event.is_set():
                self.maybe_heartbeat()
                self.outbox.flush()
                worked = self.run_once()
                if max_jobs is not None and self.jobs_done >= max_jobs:
                    break
                if burst and worked is False and self.trouble.attempt == 0:
                    break
        finally:
            self.outbox.post("service_stopping", {"queue": self.queue, "jobs_done": self.jobs_done})
            logger.info("Worker for queue %s stopped after %d job(s)", self.queue, self.jobs_done)
        return self.jobs_done

    def run_once(self) -> bool:
        """One poll; True if a submission was processed, False if idle or in trouble."""
        try:
            pulled = self.xqueue.get_submission(self.queue)
        except MLServiceError as exc:
            delay = self.trouble.next_delay()
            logger.warning("Cannot pull from queue %s (%s); retrying in %.1f s", self.queue, exc, delay)
            self.wait(delay)
            return False
        self.trouble.reset()
        if pulled is None:
            delay = self.idle.next_delay()
            logger.debug("Queue %s is empty; next poll in %.1f s", self.queue, delay)
            self.wait(delay)
            return False
        self.idle.reset()
        self.process(pulled)
        return True

    def process(self, pulled: Pulled) -> None:
        """Analyse and answer one submission; always ends with one final status event."""
        sid = pulled.submission_id
        logger.info("Pulled submission %s from queue %s", sid, self.queue)
        self.current = pulled
        outcome: Outcome | None = None
        delivered = False
        try:
            self.outbox.post("session_processing_start", {"submission_id": sid, "queue": self.queue})
            outcome = self._analyse_bounded(pulled)
            if outcome is not None:
                delivered = self.deliver(pulled, outcome)
        finally:
            self.current = None
            self.jobs_done += 1
            self._final_event(pulled, outcome, delivered)

    def _analyse_bounded(self, pulled: Pulled) -> Outcome | None:
        """Run the analysis in a thread; heartbeat meanwhile; give up after the stop grace."""
        box: list[Outcome] = []
        thread = threading.Thread(target=self._analyse_into, args=(pulled, box),
                                  name=f"job-{pulled.submission_id}", daemon=True)
        thread.start()
        stop_seen_at: float | None = None
        while thread.is_alive():
            thread.join(timeout=min(0.25, self.timing.heartbeat_s))
            self.maybe_heartbeat()
            if self.stop_event.is_set():
                stop_seen_at = self.clock() if stop_seen_at is None else stop_seen_at
                if self.clock() - stop_seen_at >= self.timing.shutdown_grace_s:
                    logger.warning("Stopping: handing back submission %s unanswered after the %.0f s "
                                   "grace; XQueue re-offers it after its processing delay",
                                   pulled.submission_id, self.timing.shutdown_grace_s)
                    return None
        return box[0] if box else None

    def _analyse_into(self, pulled: Pulled, box: list[Outcome]) -> None:
        """Thread body: even a bug in the analysis path becomes an error result."""
        try:
            box.append(self.analyse(pulled))
        except Exception as exc:  # noqa: BLE001 - the submission must still be answered
            logger.exception("Internal error while analysing submission %s", pulled.submission_id)
            msg = f"internal error in ml-service: {type(exc).__name__}: {exc}"
            result = error_result(self.queue, ErrorCode.HANDLER_CRASHED, msg)
            box.append(Outcome({**result, "submission_id": pulled.submission_id, "session_id": None}, msg, None))

    def deliver(self, pulled: Pulled, outcome: Outcome) -> bool:
        """put_result with bounded retries on transport errors; False if not delivered."""
        body = xqueue_reply(outcome.result, outcome.msg)
        retry = Backoff(self.timing.poll_interval_s, self.timing.backoff_max_s)
        for attempt in range(1, self.timing.put_attempts + 1):
            try:
                self.xqueue.put_result(pulled.header, body)
                logger.info("Answered submission %s (error_code %s, score %.2f)", pulled.submission_id,
                            outcome.result["error_code"], outcome.result["score"])
                return True
            except LeaseLostError:
                self._log_lost_lease(pulled)
                return False
            except TransportError as exc:
                if attempt == self.timing.put_attempts:
                    logger.error("Could not deliver the result of submission %s after %d attempts: %s",
                                 pulled.submission_id, attempt, exc)
                    return False
                self.wait(retry.next_delay())
            except MLServiceError as exc:
                logger.error("XQueue refused the result of submission %s: %s", pulled.submission_id, exc)
                return False
        return False

    def _log_lost_lease(self, pulled: Pulled) -> None:
        remedy = ("the analysis outlasted XQueue's SUBMISSION_PROCESSING_DELAY and the submission was "
                  "re-offered; raise SUBMISSION_PROCESSING_DELAY on the XQueue server")
        if not self._lost_lease_logged:
            logger.warning("Lost the lease on submission %s: %s", pulled.submission_id, remedy)
            self._lost_lease_logged = True
        else:
            logger.info("Lost the lease on submission %s (see earlier warning)", pulled.submission_id)

    def _final_event(self, pulled: Pulled, outcome: Outcome | None, delivered: bool) -> None:
        data = {"submission_id": pulled.submission_id, "queue": self.queue, "delivered": delivered}
        if outcome is not None:
            data["session_id"] = outcome.session_id
        if outcome is not None and outcome.ok and delivered:
            self.outbox.post("session_processing_end", {**data, "result": outcome.result})
            return
        reason = (outcome.msg if outcome is not None and not outcome.ok
                  else "result not delivered to XQueue" if outcome is not None
                  else "handed back unanswered at shutdown")
        error_code = outcome.result["error_code"] if outcome is not None else None
        self.outbox.post("session_processing_failed", {**data, "error_code": error_code, "reason": reason})

    def maybe_heartbeat(self) -> None:
        now = self.clock()
        if now - self._last_heartbeat >= self.timing.heartbeat_s:
            self._last_heartbeat = now
            busy = self.current.submission_id if self.current else None
            self.outbox.post("heartbeat", {"queue": self.queue, "busy_with": busy, "jobs_done": self.jobs_done})
