"""Status-event outbox: reporting never fails, nor delays, a job.

:meth:`EventOutbox.post` stores the event and wakes the sending thread, which sends
everything stored, in order. An event that cannot be sent (platform down, token refused)
stays stored and is resent later (on the next post, or after a capped backoff) with its
``attempt`` counter raised and its original timestamp. The store is the journal (durable
across restarts) or, without one, memory; both are bounded (the oldest heartbeat goes first).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Protocol

from ml_service.core.backoff import Backoff
from ml_service.core.errors import MLServiceError

__all__ = ["EventOutbox", "EventSender", "MemoryOutboxStore", "OutboxStore"]

logger = logging.getLogger(__name__)

Item = tuple[int, str, dict[str, Any], float, int]  # id, event_type, data, timestamp, attempt
_MAX_BROKEN_ATTEMPTS = 3  # an event that fails with a bug (not the platform's refusal) is dropped after this


class EventSender(Protocol):
    def send_event(self, event_type: str, data: dict[str, Any], attempt: int = 1,
                   timestamp: float | None = None) -> None: ...


class OutboxStore(Protocol):
    def outbox_add(self, event_type: str, data: dict[str, Any], timestamp: float) -> None: ...
    def outbox_items(self) -> list[Item]: ...
    def outbox_done(self, item_id: int) -> None: ...
    def outbox_retry(self, item_id: int) -> None: ...


class MemoryOutboxStore:
    """An in-memory outbox, bounded: when full, the oldest heartbeat (else event) goes."""

    def __init__(self, max_items: int = 1000) -> None:
        self.max_items = max_items
        self._items: dict[int, list[Any]] = {}
        self._ids = itertools.count(1)

    def outbox_add(self, event_type: str, data: dict[str, Any], timestamp: float) -> None:
        self._items[next(self._ids)] = [event_type, data, timestamp, 1]
        while len(self._items) > self.max_items:
            victim = next((k for k, v in self._items.items() if v[0] == "heartbeat"), next(iter(self._items)))
            logger.warning("Status outbox full: dropped unsent %s event", self._items.pop(victim)[0])

    def outbox_items(self) -> list[Item]:
        return [(k, v[0], v[1], v[2], v[3]) for k, v in self._items.items()]

    def outbox_done(self, item_id: int) -> None:
        self._items.pop(item_id, None)

    def outbox_retry(self, item_id: int) -> None:
        if item_id in self._items:  # it may have been dropped while it was being sent
            self._items[item_id][3] += 1


class EventOutbox:
    """Sends status events, keeping the unsent ones for later.

    After :meth:`start`, events leave from one background thread: :meth:`post` only stores
    and wakes it, so a platform that hangs or is down never sits on a job's path. Without
    the thread (``background=False``, or before :meth:`start`) :meth:`post` sends at once.
    """

    def __init__(self, sender: EventSender, store: OutboxStore | None = None,
                 clock: Callable[[], float] = time.time, retry_cap_s: float = 30.0, background: bool = True) -> None:
        self.sender, self.clock, self.background = sender, clock, background
        self.store: OutboxStore = store if store is not None else MemoryOutboxStore()
        self._lock = threading.Lock()  # the store
        self._sending = threading.Lock()  # one flush at a time
        self._wake = threading.Event()
        self._retry = Backoff(1.0, retry_cap_s)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._failing = False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self.store.outbox_items())

    def post(self, event_type: str, data: dict[str, Any]) -> None:
        """Store one event and have everything stored sent (in the background once started)."""
        with self._lock:
            self.store.outbox_add(event_type, data, self.clock())
        self.kick()

    def kick(self) -> None:
        """Send what is stored: wake the sending thread, or send now if there is none."""
        if self._thread is not None:
            self._wake.set()
        else:
            self.flush()

    def start(self) -> None:
        """Send from a background thread from now on (unless ``background`` is off)."""
        if not self.background:
            return
        self._stopping = False
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="status-events", daemon=True)
            self._thread.start()
        self._wake.set()

    def stop(self, drain_s: float) -> bool:
        """Send what is stored, waiting at most ``drain_s``; True if nothing is left unsent.

        What is left stays in the store (the journal: sent after the next start)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return self.flush()
        self._stopping = True
        self._wake.set()
        thread.join(drain_s)
        if thread.is_alive():
            logger.warning("Status events still unsent after %.0f s; they are kept and resent later", drain_s)
            return False
        return self.pending == 0

    def _run(self) -> None:
        while True:
            self._wake.clear()
            stopping = self._stopping or self._thread is not threading.current_thread()
            sent = self.flush()
            if stopping:
                return
            delay = None if sent else self._retry.next_delay()
            if sent:
                self._retry.reset()
            self._wake.wait(delay)

    def flush(self) -> bool:
        """Send stored events in order; stop at the first failure. True if none is left."""
        with self._sending:
            with self._lock:
                items = self.store.outbox_items()
            for item_id, event_type, data, timestamp, attempt in items:
                if not self._send_one(item_id, event_type, data, timestamp, attempt):
                    return False
            if self._failing:
                logger.info("Status events are reaching the platform again")
                self._failing = False
            return True

    def _send_one(self, item_id: int, event_type: str, data: dict[str, Any], timestamp: float, attempt: int) -> bool:
        try:
            self.sender.send_event(event_type, data, attempt, timestamp)
        except MLServiceError as exc:
            with self._lock:
                self.store.outbox_retry(item_id)
            self._note_failure(event_type, exc)
            return False
        except Exception:  # noqa: BLE001 - a bug must not stop reporting, nor the worker
            logger.exception("Status event %s could not be sent (attempt %d)", event_type, attempt)
            with self._lock:
                (self.store.outbox_done if attempt >= _MAX_BROKEN_ATTEMPTS else self.store.outbox_retry)(item_id)
            return False
        with self._lock:
            self.store.outbox_done(item_id)
        return True

    def _note_failure(self, event_type: str, exc: MLServiceError) -> None:
        if not self._failing:
            logger.warning("Cannot send status event %s (%s); keeping unsent events to resend later",
                           event_type, exc)
            self._failing = True
        else:
            logger.debug("Status event %s still not sent: %s", event_type, exc)
