"""Per-queue counts for the status page, read the same way from either flavour's store.

:class:`QueueCounts` is one queue's row on the page (and in ``GET /api/queues``);
:class:`CountingStore` is the one method both stores implement for it
(:class:`~ml_service.sandbox.queue_store.QueueStore` for openedx/xqueue,
:class:`~ml_service.sandbox.edx_store.EdxStore` for edx-submissions), so the platform app
asks whichever store the sandbox runs and never the other one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = ["CountingStore", "QueueCounts"]


@dataclass(frozen=True)
class QueueCounts:
    """One queue's submissions, as the active store sees them now.

    ``waiting``: a pull would hand them out now (xqueue's ``get_queuelen``; edx: pending, retry,
    or pulled with a lapsed lease); ``pulled``: handed to a grader, lease still running;
    ``answered``: done with an answer (xqueue: delivered to the LMS; edx: the score stored).
    Retired without an answer (superseded, too many failures) is none of these.
    """

    waiting: int
    pulled: int
    answered: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class CountingStore(Protocol):
    """What the status page needs of a submission store."""

    def counts(self, queue: str) -> QueueCounts:
        """``queue``'s counts as of the store's clock."""
        ...
