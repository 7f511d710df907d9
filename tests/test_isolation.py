"""Handler isolation: every way a handler can fail becomes an error, and the next job works."""

from __future__ import annotations

import os
import time

import pytest

from ml_service.core.errors import HandlerError, HandlerLoadError, Retry
from ml_service.core.isolation import IsolatedHandler
from ml_service.core.results import ErrorCode

JOB = {"submission_id": 1, "recordings": [], "options": {}}


@pytest.fixture
def make():
    made: list[IsolatedHandler] = []

    def factory(name: str, **kw) -> IsolatedHandler:
        handler = IsolatedHandler(f"tests.sample_handlers.{name}", **kw)
        made.append(handler)
        return handler

    yield factory
    for handler in made:
        handler.stop()


def test_child_is_reused_across_jobs_and_is_not_the_worker(make):
    handler = make("pid_reporter")
    first = handler(JOB)[1]
    second = handler(JOB)[1]
    assert first == second and first != f"pid={os.getpid()}"
    assert handler.children_started == 1


def test_load_errors_surface_at_start(make):
    with pytest.raises(HandlerLoadError, match="has no attribute 'nope'"):
        make("nope").start()
    with pytest.raises(HandlerLoadError, match="not found"):
        IsolatedHandler("tests.no_such_module.process").start()


@pytest.mark.parametrize("name, code, text", [
    ("raises", ErrorCode.HANDLER_RAISED, "ZeroDivisionError: model exploded"),
    ("wrong_shape", ErrorCode.INVALID_RESULT, "expected a (result, msg) tuple"),
    ("bad_schema", ErrorCode.INVALID_RESULT, "breaks the schema"),
])
def test_handler_errors_keep_the_child(make, name, code, text):
    handler = make(name)
    for _ in range(2):
        with pytest.raises(HandlerError) as info:
            handler(JOB)
        assert info.value.error_code == code and text in str(info.value)
    assert handler.children_started == 1


@pytest.mark.parametrize("name, kw, code, text", [
    ("hang", {"timeout_s": 1.0}, ErrorCode.TIMEOUT, "1 s time limit"),
    ("eat_memory", {"memory_mb": 300}, ErrorCode.OUT_OF_MEMORY, "300 MB cap"),
    ("segfault", {}, ErrorCode.HANDLER_CRASHED, "signal 11"),
    ("exit_now", {}, ErrorCode.HANDLER_CRASHED, "exit code 3"),
])
def test_hangs_memory_hogs_and_crashes_get_a_fresh_child(make, name, kw, code, text):
    handler = make(name, **kw)
    with pytest.raises(HandlerError) as info:
        handler(JOB)
    assert info.value.error_code == code and text in str(info.value)
    handler.path = "tests.sample_handlers.ok"  # the next job runs in a new child
    result, _ = handler(JOB)
    assert result["error_code"] == 0 and handler.children_started == 2


def test_memory_of_the_handlers_own_child_processes_counts_and_they_are_killed(make):
    handler = make("child_eats_memory", memory_mb=300)
    with pytest.raises(HandlerError) as info:
        handler(JOB)
    assert info.value.error_code == ErrorCode.OUT_OF_MEMORY
    assert "with its child processes" in str(info.value) and "300 MB cap" in str(info.value)
    deadline = time.monotonic() + 5
    while _hogs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _hogs() == []


def _hogs() -> list[str]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            cmdline = open(f"/proc/{entry.name}/cmdline", "rb").read()
        except OSError:
            continue
        if b"ml-service-test-grandchild-hog" in cmdline and b"pytest" not in cmdline:
            found.append(entry.name)
    return found


def test_retry_crosses_the_process_boundary(make):
    with pytest.raises(Retry) as info:
        make("always_retry")(JOB)
    assert info.value.delay_s == 1
