"""The status-event outbox: in order, never blocking the caller, retried, bounded at stop."""

from __future__ import annotations

import threading
import time

import pytest

from ml_service.core.errors import TransportError
from ml_service.core.events import EventOutbox, MemoryOutboxStore


class Sender:
    """Records events; can hang until released, fail with a transport error, or raise a bug."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.release = threading.Event()
        self.release.set()
        self.fail: Exception | None = None
        self.calls = 0

    def send_event(self, event_type, data, attempt=1, timestamp=None) -> None:
        self.calls += 1
        self.release.wait(30)
        if self.fail is not None:
            raise self.fail
        self.sent.append((event_type, attempt))


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not condition():
        time.sleep(0.01)
    return condition()


@pytest.fixture
def sender() -> Sender:
    return Sender()


def test_post_never_waits_for_a_hanging_platform(sender):
    outbox = EventOutbox(sender)
    outbox.start()
    sender.release.clear()  # the platform hangs
    started = time.monotonic()
    for n in range(50):
        outbox.post("heartbeat", {"n": n})
    assert time.monotonic() - started < 1.0
    sender.release.set()
    assert wait_for(lambda: len(sender.sent) == 50)
    assert outbox.stop(drain_s=5) is True


def test_events_leave_in_order_and_stop_sends_the_last_one(sender):
    outbox = EventOutbox(sender)
    outbox.start()
    for event in ("service_started", "session_processing_start", "session_processing_end"):
        outbox.post(event, {})
    outbox.post("service_stopping", {})
    assert outbox.stop(drain_s=5) is True
    assert [e for e, _ in sender.sent] == ["service_started", "session_processing_start",
                                            "session_processing_end", "service_stopping"]


def test_stop_waits_at_most_the_drain_and_keeps_what_is_unsent(sender):
    outbox = EventOutbox(sender)
    outbox.start()
    sender.release.clear()
    outbox.post("service_stopping", {})
    started = time.monotonic()
    assert outbox.stop(drain_s=0.3) is False
    assert time.monotonic() - started < 2.0
    assert outbox.pending == 1
    sender.release.set()


def test_a_refused_event_is_kept_and_retried_with_its_attempt_raised(sender):
    sender.fail = TransportError("platform down")
    outbox = EventOutbox(sender, retry_cap_s=0.05)
    outbox.start()
    outbox.post("heartbeat", {})
    assert wait_for(lambda: sender.calls >= 3)
    sender.fail = None
    assert wait_for(lambda: sender.sent != [])
    assert sender.sent[0][0] == "heartbeat" and sender.sent[0][1] >= 3
    assert outbox.stop(drain_s=5) is True


def test_a_bug_in_sending_neither_stops_the_thread_nor_blocks_forever(sender, caplog):
    sender.fail = ValueError("could not convert string to float: 'one hour'")
    outbox = EventOutbox(sender, retry_cap_s=0.05)
    outbox.start()
    outbox.post("service_started", {})
    assert wait_for(lambda: outbox.pending == 0)  # dropped after 3 broken attempts
    assert sender.calls == 3 and "could not convert" in caplog.text
    sender.fail = None
    outbox.post("heartbeat", {})
    assert wait_for(lambda: sender.sent == [("heartbeat", 1)])
    outbox.stop(drain_s=5)


def test_without_the_thread_post_sends_at_once(sender):
    outbox = EventOutbox(sender, background=False)
    outbox.start()
    outbox.post("heartbeat", {})
    assert sender.sent == [("heartbeat", 1)]


def test_the_memory_store_is_bounded_and_tolerates_a_dropped_item():
    store = MemoryOutboxStore(max_items=2)
    for n in range(3):
        store.outbox_add("heartbeat" if n < 2 else "service_stopping", {"n": n}, float(n))
    assert [i[2]["n"] for i in store.outbox_items()] == [1, 2]
    store.outbox_retry(0)  # dropped while it was being sent: no error
