"""The worker loop: pull, announce, analyse, answer, report — until told to stop.

``run()`` first recovers jobs a killed predecessor left in the journal, then repeats
``run_once()``. An empty queue backs off quietly up to a cap; a server that is down backs
off exponentially with jitter; nothing in the loop crashes the worker. Every pulled
submission ends in one answer (a result, an error result, or a result kept in the journal
for later delivery) and one final status event, by the structure of :meth:`Worker.process`
(a lost lease is no failure and posts none: whoever answers the submission reports it).
``request_stop()`` (the signal handler) lets the current job finish within the grace
period; a job still running then is handed back, and the worker sends ``service_stopping``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

from ml_service.core import metrics
from ml_service.core.backoff import Backoff
from ml_service.core.bounded import clamp
from ml_service.core.delivery import Delivered, Delivery
from ml_service.core.errors import MLServiceError, UnanswerableError
from ml_service.core.events import EventOutbox
from ml_service.core.flavour import ScorePolicy
from ml_service.core.job import Outcome
from ml_service.core.journal import Journal, JobRow
from ml_service.core.results import ErrorCode, error_result
from ml_service.core.submission import Pulled
from ml_service.core.xqueue import XQueueClient

__all__ = ["Worker", "WorkerTiming"]

logger = logging.getLogger(__name__)

Analyse = Callable[[Pulled], Outcome]
_KEEP_DELIVERED_S = 7 * 86400.0  # delivered jobs stay in the journal this long (re-offers)
_TOUCH_S = 5.0  # journal heartbeat of a running job; others treat it as live for 6x this


@dataclass(frozen=True)
class WorkerTiming:
    """The loop's waits and limits."""

    poll_interval_s: float = 1.0
    poll_max_interval_s: float = 10.0
    backoff_max_s: float = 60.0
    heartbeat_s: float = 30.0
    shutdown_grace_s: float = 30.0
    rerun_interrupted: bool = True
    max_runs: int = 3
    wait_for_other_s: float = 600.0
    events_drain_s: float = 5.0  # at stop, how long unsent status events may still take


class Worker:
    """Pulls from one queue and answers every submission it pulls."""

    def __init__(self, xqueue: XQueueClient, queue: str, analyse: Analyse, outbox: EventOutbox,
                 journal: Journal, timing: WorkerTiming = WorkerTiming(),
                 clock: Callable[[], float] = time.monotonic, stop_event: threading.Event | None = None,
                 wait: Callable[[float], bool] | None = None, cancel: Callable[[], None] | None = None,
                 policy: ScorePolicy = ScorePolicy(), lease_s: float | None = None) -> None:
        self.xqueue, self.queue, self.analyse, self.outbox = xqueue, queue, analyse, outbox
        self.journal, self.timing, self.clock, self.cancel = journal, timing, clock, cancel
        self.stop_event = stop_event or threading.Event()
        self._wait = wait or self.stop_event.wait
        self.delivery = Delivery(xqueue, journal, queue, outbox, self.wait, base_s=timing.poll_interval_s,
                                 cap_s=timing.backoff_max_s, policy=policy, lease_s=lease_s)
        self.idle = Backoff(timing.poll_interval_s, timing.poll_max_interval_s)
        self.trouble = Backoff(timing.poll_interval_s, timing.backoff_max_s)
        self.jobs_done = 0
        self.current: Pulled | None = None
        self._last_heartbeat = float("-inf")
        self._unanswerable: dict[str, None] = {}  # fingerprints already reported, oldest first

    def request_stop(self) -> None:
        """Ask the loop to stop after the current job (safe from a signal handler)."""
        self.stop_event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep unless stopping; True if a stop was requested meanwhile."""
        return self._wait(seconds)

    def run(self, max_jobs: int | None = None, burst: bool = False) -> int:
        """Loop until stopped (or ``max_jobs`` done, or the queue is empty in burst mode)."""
        self.outbox.start()
        self.outbox.post("service_started", {"queue": self.queue})
        try:
            self.recover()
            while not self.stop_event.is_set():
                self.maybe_heartbeat()
                self.outbox.kick()
                self.delivery.retry_due()
                worked = self.run_once()
                if max_jobs is not None and self.jobs_done >= max_jobs:
                    break
                if burst and not worked and self.trouble.attempt == 0:
                    break
        finally:
            self.outbox.post("service_stopping", {"queue": self.queue, "jobs_done": self.jobs_done})
            self.outbox.stop(drain_s=self.timing.events_drain_s)
            logger.info("Worker for queue %s stopped after %d job(s)", self.queue, self.jobs_done)
        return self.jobs_done

    def recover(self) -> None:
        """Forget old delivered jobs; finish jobs that a killed predecessor left running."""
        pruned = self.journal.prune(older_than_s=_KEEP_DELIVERED_S)
        if pruned:
            logger.info("Journal: forgot %d job(s) delivered more than 7 days ago", pruned)
        for row in self.journal.orphans(self.queue, stale_after_s=6 * _TOUCH_S + self.timing.wait_for_other_s):
            logger.warning("Submission %s was interrupted (worker killed mid-job, run %d); %s", row.submission_id,
                           row.runs, "re-running it" if self._may_rerun(row.runs) else "answering with an error")
            self.process(row.pulled(), interrupted_runs=row.runs)

    def _may_rerun(self, runs: int) -> bool:
        return self.timing.rerun_interrupted and runs < self.timing.max_runs

    def run_once(self) -> bool:
        """One poll; True if a submission was pulled, False if idle or in trouble."""
        try:
            pulled = self.xqueue.get_submission(self.queue)
        except UnanswerableError as exc:  # the server is fine; this one submission is not
            self.trouble.reset()
            metrics.poll_ok(self.queue)
            self._report_unanswerable(exc)
            return True
        except MLServiceError as exc:
            metrics.poll_failed(self.queue)
            delay = self.trouble.next_delay()
            logger.warning("Cannot pull from queue %s (%s); retrying in %.1f s", self.queue, exc, delay)
            self.wait(delay)
            return False
        self.trouble.reset()
        metrics.poll_ok(self.queue)
        if pulled is None:
            delay = self.idle.next_delay()
            logger.debug("Queue %s is empty; next poll in %.1f s", self.queue, delay)
            self.wait(delay)
            return False
        self.idle.reset()
        metrics.pulled(self.queue)
        self.process(pulled)
        return True

    def process(self, pulled: Pulled, interrupted_runs: int = 0) -> None:
        """Answer one submission; always ends with exactly one final status event."""
        logger.info("Pulled submission %s from queue %s", pulled.submission_id, self.queue)
        pulled_at = self.clock()
        self.current = pulled
        metrics.job_started(self.queue)
        outcome: Outcome | None = None
        status: Delivered | None = None
        try:
            self.outbox.post("session_processing_start", {"submission_id": pulled.submission_id,
                                                          "queue": self.queue})
            outcome = self._outcome_for(pulled, interrupted_runs)
            if outcome is not None:
                held_s = None if interrupted_runs else self.clock() - pulled_at  # unknown after a restart
                status = self.delivery.deliver(pulled, outcome, held_s=held_s)
        finally:
            self.current = None
            metrics.job_finished(self.queue)
            self.jobs_done += 1
            self._final_event(pulled, outcome, status)

    def _outcome_for(self, pulled: Pulled, interrupted_runs: int) -> Outcome | None:
        """A kept result, another worker's result, or a fresh analysis (None: handed back)."""
        before = self.journal.get(self.queue, pulled.submission_id)
        decision, row = self.journal.begin(self.queue, pulled, live_after_s=6 * _TOUCH_S)
        if decision == "reuse" and row is not None and _offered_again(before, pulled):
            outcome = self.delivery.not_stored(pulled, row)
            self.journal.computed(self.queue, pulled.submission_id, outcome.result, outcome.msg)
            return outcome
        if decision == "reuse" and row is not None and row.result is not None:
            logger.info("Submission %s came back; answering from the journal, not re-analysing", pulled.submission_id)
            return Outcome(row.result, row.msg or "", row.result.get("session_id"))
        if decision == "wait":
            kept = self._wait_for_other(pulled)
            if kept is not None:
                return kept
        if interrupted_runs and not self._may_rerun(interrupted_runs):
            outcome = _interrupted(self.queue, pulled, interrupted_runs)
        else:
            outcome = self._analyse_bounded(pulled)
        if outcome is None:
            self.journal.handed_back(self.queue, pulled.submission_id)
            return None
        self.journal.computed(self.queue, pulled.submission_id, outcome.result, outcome.msg)
        return outcome

    def _wait_for_other(self, pulled: Pulled) -> Outcome | None:
        """Another live worker analyses the same content: wait for its result instead."""
        logger.info("Submission %s is being analysed by another worker; waiting for its result",
                    pulled.submission_id)
        deadline = self.clock() + self.timing.wait_for_other_s
        while self.clock() < deadline and not self.wait(1.0):
            decision, row = self.journal.begin(self.queue, pulled, live_after_s=6 * _TOUCH_S)
            if decision == "reuse" and row is not None and row.result is not None:
                return Outcome(row.result, row.msg or "", row.result.get("session_id"))
            if decision == "analyse":
                return None  # the other worker is gone; the row is ours now
        return None

    def _analyse_bounded(self, pulled: Pulled) -> Outcome | None:
        """Run the analysis in a thread; heartbeat meanwhile; give up after the stop grace."""
        box: list[Outcome] = []
        thread = threading.Thread(target=self._analyse_into, args=(pulled, box),
                                  name=f"job-{pulled.submission_id}", daemon=True)
        thread.start()
        stop_seen_at: float | None = None
        last_touch = self.clock()
        while thread.is_alive():
            thread.join(timeout=min(0.25, self.timing.heartbeat_s))
            self.maybe_heartbeat()
            if self.clock() - last_touch >= _TOUCH_S:
                self.journal.touch(self.queue, pulled.submission_id)
                last_touch = self.clock()
            if self.stop_event.is_set():
                stop_seen_at = self.clock() if stop_seen_at is None else stop_seen_at
                if self.clock() - stop_seen_at >= self.timing.shutdown_grace_s:
                    logger.warning("Stopping: handing back submission %s unanswered after the %.0f s grace; "
                                   "XQueue re-offers it after its processing delay",
                                   pulled.submission_id, self.timing.shutdown_grace_s)
                    if self.cancel is not None:
                        self.cancel()
                    return None
        return box[0] if box else None

    def _analyse_into(self, pulled: Pulled, box: list[Outcome]) -> None:
        """Thread body: even a bug in the analysis path becomes an error result."""
        try:
            box.append(self.analyse(pulled))
        except Exception as exc:  # noqa: BLE001 - the submission must still be answered
            logger.exception("Internal error while analysing submission %s", pulled.submission_id)
            msg = clamp(f"internal error in ml-service: {type(exc).__name__}: {exc}")
            result = error_result(self.queue, ErrorCode.HANDLER_CRASHED, msg)
            box.append(Outcome({**result, "submission_id": pulled.submission_id, "session_id": None}, msg, None))

    def _report_unanswerable(self, exc: UnanswerableError) -> None:
        """Once per submission (XQueue re-offers it after every lease): a warning, a metric, an event."""
        if exc.fingerprint in self._unanswerable:
            logger.debug("Submission %s came back, still unanswerable", exc.fingerprint)
            return
        self._unanswerable[exc.fingerprint] = None
        while len(self._unanswerable) > 1000:
            self._unanswerable.pop(next(iter(self._unanswerable)))
        metrics.unanswered("unanswerable", self.queue)
        logger.warning("Queue %s handed out a submission that cannot be answered (%s); it is reported "
                       "once as %s and ignored when it comes back", self.queue, exc, exc.fingerprint)
        self.outbox.post("session_processing_failed", {"queue": self.queue, "submission_id": None,
                                                       "unanswerable": True, "fingerprint": exc.fingerprint,
                                                       "error_code": None, "reason": str(exc)})

    def _final_event(self, pulled: Pulled, outcome: Outcome | None, status: Delivered | None) -> None:
        _count(self.queue, outcome, status)
        data = {"submission_id": pulled.submission_id, "queue": self.queue,
                "delivered": status.value if status else "no"}
        if outcome is not None:
            data["session_id"] = outcome.session_id
        if outcome is not None and outcome.note:
            data["answer_not_stored"] = outcome.note
        if outcome is not None and outcome.ok and status is Delivered.OK:
            self.outbox.post("session_processing_end", {**data, "result": outcome.result})
        elif status is Delivered.LEASE_LOST:
            return  # no failure: the worker that holds the submission now reports its end
        elif status is not Delivered.DEFERRED:  # a deferred delivery reports when it lands
            reason = (outcome.msg if outcome is not None and not outcome.ok
                      else status.value if status is not None else "handed back unanswered at shutdown")
            error_code = outcome.result["error_code"] if outcome is not None else None
            self.outbox.post("session_processing_failed", {**data, "error_code": error_code, "reason": reason})

    def _update_queue_length(self) -> None:
        """The queue-length gauge (optional: the edx-submissions successor has no get_queuelen)."""
        try:
            metrics.queue_length(self.xqueue.get_queuelen(self.queue), self.queue)
        except MLServiceError as exc:
            logger.debug("No queue length for %s: %s", self.queue, exc)

    def maybe_heartbeat(self) -> None:
        now = self.clock()
        if now - self._last_heartbeat >= self.timing.heartbeat_s:
            self._last_heartbeat = now
            busy = self.current.submission_id if self.current else None
            self._update_queue_length()
            self.outbox.post("heartbeat", {"queue": self.queue, "busy_with": busy, "jobs_done": self.jobs_done})


def _count(queue: str, outcome: Outcome | None, status: Delivered | None) -> None:
    """Metrics of one finished job."""
    if outcome is not None and status is Delivered.OK:
        metrics.answered(outcome.result["error_code"], outcome.result.get("processing_time_s", 0.0), queue)
    elif outcome is None:
        metrics.unanswered("handed_back", queue)
    elif status in (Delivered.REFUSED, Delivered.DEFERRED):
        metrics.unanswered(status.name.lower(), queue)


def _offered_again(before: JobRow | None, pulled: Pulled) -> bool:
    """The server accepted our answer, then handed the submission out again under a new key.

    (The same key is a lapsed lease handed out again before our answer landed: no re-offer.)
    """
    if before is None or before.state != "delivered":
        return False
    try:
        delivered_key = json.loads(before.header).get("submission_key")
    except (ValueError, AttributeError):
        return False
    return delivered_key != pulled.submission_key


def _interrupted(queue: str, pulled: Pulled, runs: int) -> Outcome:
    msg = (f"the worker was stopped while analysing this submission ({runs} time(s)); it is not re-run "
           "(ML_INFLIGHT_ON_START / ML_MAX_RUNS)")
    result = {**error_result(queue, ErrorCode.INTERRUPTED, msg), "submission_id": pulled.submission_id,
              "session_id": None}
    return Outcome(result, msg, None)
