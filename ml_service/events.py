"""Status-event outbox: reporting never fails a job.

:meth:`EventOutbox.post` stores the event, then tries to send everything stored, in order.
An event that cannot be sent (platform down, token refused) stays stored and is resent by
:meth:`flush` on later loop turns with its ``attempt`` counter raised and its original
timestamp. The store is the journal (durable across restarts) or, without one, memory.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Protocol

from ml_service.errors import MLServiceError

__all__ = ["EventOutbox", "EventSender", "MemoryOutboxStore", "OutboxStore"]

logger = logging.getLogger(__name__)

Item = tuple[int, str, dict[str, Any], float, int]  # id, event_type, data, timestamp, attempt


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
        self._items[item_id][3] += 1


class EventOutbox:
    """Sends status events, keeping the unsent ones for later."""

    def __init__(self, sender: EventSender, store: OutboxStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.sender, self.clock = sender, clock
        self.store: OutboxStore = store if store is not None else MemoryOutboxStore()
        self._lock = threading.Lock()
        self._failing = False

    @property
    def pending(self) -> int:
        return len(self.store.outbox_items())

    def post(self, event_type: str, data: dict[str, Any]) -> bool:
        """Store one event and try to send everything stored; True if all went out."""
        with self._lock:
            self.store.outbox_add(event_type, data, self.clock())
        return self.flush()

    def flush(self) -> bool:
        """Send stored events in order; stop at the first failure. True if none is left."""
        with self._lock:
            for item_id, event_type, data, timestamp, attempt in self.store.outbox_items():
                try:
                    self.sender.send_event(event_type, data, attempt, timestamp)
                except MLServiceError as exc:
                    self.store.outbox_retry(item_id)
                    self._note_failure(event_type, exc)
                    return False
                self.store.outbox_done(item_id)
            if self._failing:
                logger.info("Status events are reaching the platform again")
                self._failing = False
            return True

    def _note_failure(self, event_type: str, exc: MLServiceError) -> None:
        if not self._failing:
            logger.warning("Cannot send status event %s (%s); keeping unsent events to resend later",
                           event_type, exc)
            self._failing = True
        else:
            logger.debug("Status event %s still not sent: %s", event_type, exc)
