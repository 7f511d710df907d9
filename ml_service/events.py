"""Status-event outbox: reporting never fails a job.

:meth:`EventOutbox.post` tries to send at once; an event that cannot be sent (platform down,
token refused) is kept, in order, and resent by :meth:`flush` on later loop turns with its
``attempt`` counter raised and its original timestamp. The outbox is bounded: when full,
the oldest heartbeats go first, then the oldest events, and each drop is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ml_service.errors import MLServiceError

__all__ = ["EventOutbox", "EventSender"]

logger = logging.getLogger(__name__)


class EventSender(Protocol):
    def send_event(self, event_type: str, data: dict[str, Any], attempt: int = 1,
                   timestamp: float | None = None) -> None: ...


@dataclass
class _Pending:
    event_type: str
    data: dict[str, Any]
    timestamp: float
    attempt: int = 1


class EventOutbox:
    """Sends status events, keeping the unsent ones for later."""

    def __init__(self, sender: EventSender, clock: Callable[[], float] = time.time,
                 max_pending: int = 1000) -> None:
        self.sender, self.clock, self.max_pending = sender, clock, max_pending
        self._pending: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._failing = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def post(self, event_type: str, data: dict[str, Any]) -> bool:
        """Queue one event and try to send everything queued; True if all went out."""
        with self._lock:
            self._pending.append(_Pending(event_type, data, self.clock()))
            self._trim()
        return self.flush()

    def flush(self) -> bool:
        """Send queued events in order; stop at the first failure. True if none is left."""
        with self._lock:
            while self._pending:
                item = self._pending[0]
                try:
                    self.sender.send_event(item.event_type, item.data, item.attempt, item.timestamp)
                except MLServiceError as exc:
                    item.attempt += 1
                    self._note_failure(item, exc)
                    return False
                self._pending.popleft()
            if self._failing:
                logger.info("Status events are reaching the platform again")
                self._failing = False
            return True

    def _note_failure(self, item: _Pending, exc: MLServiceError) -> None:
        if not self._failing:
            logger.warning("Cannot send status event %s (%s); keeping %d event(s) to resend",
                           item.event_type, exc, len(self._pending))
            self._failing = True
        else:
            logger.debug("Status event %s still not sent: %s", item.event_type, exc)

    def _trim(self) -> None:
        while len(self._pending) > self.max_pending:
            victim = next((p for p in self._pending if p.event_type == "heartbeat"), self._pending[0])
            self._pending.remove(victim)
            logger.warning("Status outbox full: dropped unsent %s event", victim.event_type)
