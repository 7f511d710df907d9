"""The pull loop, end to end against httpretty's XQueue, platform and media host."""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import httpretty
import pytest

from ml_service.cli import build_worker
from ml_service.core.config import Settings
from ml_service.core.results import ErrorCode, validate_result
from ml_service.core.worker import Worker
from tests import sample_handlers
from tests.xqueue_fake import MEDIA, PLATFORM, XQ, FakePlatform, FakeXQueue, envelope


class Waits:
    """Records the loop's waits instead of sleeping; can stop the worker after N waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.worker: Worker | None = None
        self.stop_after: int | None = None

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        if self.stop_after is not None and len(self.delays) >= self.stop_after:
            self.worker.request_stop()
        return self.worker.stop_event.is_set()


@pytest.fixture
def fakes():
    httpretty.reset()
    httpretty.enable(allow_net_connect=False)
    xq, platform = FakeXQueue(), FakePlatform()
    xq.install()
    platform.install()
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/rec1", body=b"RIFF-fake-media-bytes")
    yield xq, platform
    httpretty.disable()
    httpretty.reset()


def settings_for(tmp_path: Path, handler: str = "ok", **extra: str) -> Settings:
    env = {
        "XQUEUE_URL": XQ, "PLATFORM_URL": PLATFORM, "ML_XQUEUE_AUTH": "ml_service:ml_password",
        "ML_XQUEUE_NAME": "debug", "ML_ANALYZER": f"tests.sample_handlers.{handler}",
        "ML_CLIENT_ID": "debug-client", "ML_CLIENT_SECRET": "s3cr3t-client-secret",
        "ML_WORK_DIR": str(tmp_path), "ML_SHUTDOWN_GRACE_S": "5", "ML_HEARTBEAT_S": "1000",
        "ML_STATE_DIR": str(tmp_path / "state"), "ML_HANDLER_ISOLATION": "inline",
        **extra,
    }
    return Settings.from_env(env)


def make_worker(tmp_path: Path, handler: str = "ok", **extra: str) -> tuple[Worker, Waits]:
    worker = build_worker(settings_for(tmp_path, handler, **extra))
    worker.outbox.background = False  # httpretty is not thread-safe: events go inline here (tests/e2e: threaded)
    waits = Waits()
    waits.worker = worker
    worker._wait = waits
    worker.analyse = functools.partial(worker.analyse.func, **{**worker.analyse.keywords, "retry_wait": waits})
    return worker, waits


def use_handler(worker: Worker, handler) -> None:
    """Swap the handler of a built worker (for handlers that need the worker itself)."""
    worker.analyse = functools.partial(worker.analyse.func, **{**worker.analyse.keywords, "handler": handler})


def answer(xq: FakeXQueue, index: int = -1) -> dict:
    return json.loads(xq.results[index]["xqueue_body"])


BODY = {"session_id": "exam1-alice", "modality": "debug", "options": {"x": 1}}


def test_one_submission_pulled_analysed_answered_and_reported(fakes, tmp_path):
    xq, platform = fakes
    xq.add(11, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    assert worker.run(max_jobs=1) == 1

    reply = answer(xq)
    assert reply["correct"] is True
    assert validate_result(reply["result"]) == []
    assert reply["result"]["session_id"] == "exam1-alice"
    assert reply["result"]["submission_id"] == 11
    assert reply["result"]["media"]["files"][0]["size"] == len(b"RIFF-fake-media-bytes")
    assert reply["score"] == reply["result"]["score"] < 1.0
    assert json.loads(xq.results[-1]["xqueue_header"])["submission_key"] == xq.keys[11]

    seen = sample_handlers.SEEN[-1]
    assert seen["options"] == {"x": 1} and seen["recordings"][0]["name"] == "cam.webm"
    assert not Path(seen["work_dir"]).exists(), "per-job media folder must be removed"
    assert platform.types() == ["service_started", "heartbeat", "session_processing_start",
                                "session_processing_end", "service_stopping"]
    end = platform.events[3]["data"]
    assert end["submission_id"] == 11 and end["result"]["violations"][0]["type"] == "face_absent"


@pytest.mark.parametrize("handler, code, text", [
    ("raises", ErrorCode.HANDLER_RAISED, "ZeroDivisionError: model exploded"),
    ("wrong_shape", ErrorCode.INVALID_RESULT, "expected a (result, msg) tuple"),
    ("bad_schema", ErrorCode.INVALID_RESULT, "breaks the schema"),
    ("always_retry", ErrorCode.HANDLER_RAISED, "asked for a retry 3 time(s)"),
])
def test_handler_failures_become_error_answers(fakes, tmp_path, handler, code, text):
    xq, platform = fakes
    xq.add(12, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path, handler)
    worker.run(max_jobs=1)
    reply = answer(xq)
    assert reply["correct"] is False and reply["score"] == 0
    assert reply["result"]["error_code"] == code
    assert text in reply["result"]["msg"]
    assert validate_result(reply["result"]) == []
    failed = [e for e in platform.events if e["event_type"] == "session_processing_failed"]
    assert len(failed) == 1 and failed[0]["data"]["error_code"] == code
    assert "session_processing_end" not in platform.types()


def test_handler_retry_runs_again_after_the_requested_delay(fakes, tmp_path):
    xq, _ = fakes
    sample_handlers.CALLS["retry"] = 0
    xq.add(13, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, waits = make_worker(tmp_path, "retry_once")
    worker.run(max_jobs=1)
    assert answer(xq)["correct"] is True
    assert sample_handlers.CALLS["retry"] == 2
    assert waits.delays == [5]


@pytest.mark.parametrize("body, files, code, text", [
    ("this is not json", {}, ErrorCode.BAD_SUBMISSION, "not valid JSON"),
    ({"modality": "debug"}, {}, ErrorCode.BAD_SUBMISSION, "session_id"),
    (BODY, {"a.mp4": "http://evil.example/a.mp4"}, ErrorCode.MEDIA_DOWNLOAD, "not in ML_MEDIA_ALLOWED_HOSTS"),
    (BODY, {"a.mp4": f"{MEDIA}/missing"}, ErrorCode.MEDIA_DOWNLOAD, "HTTP 404"),
])
def test_bad_submissions_are_answered_with_a_clear_error(fakes, tmp_path, body, files, code, text):
    xq, _ = fakes
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/missing", status=404, body="no")
    xq.add(14, body, files)
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    reply = answer(xq)
    assert reply["result"]["error_code"] == code
    assert text in reply["result"]["msg"]
    assert sample_handlers.SEEN == [] or sample_handlers.SEEN[-1]["submission_id"] != 14


def test_empty_queue_backs_off_quietly_up_to_the_cap(fakes, tmp_path, caplog):
    worker, waits = make_worker(tmp_path, ML_POLL_INTERVAL_S="1", ML_POLL_MAX_INTERVAL_S="8")
    waits.stop_after = 7
    caplog.set_level("DEBUG")
    assert worker.run() == 0
    ceilings = [1, 2, 4, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(waits.delays, ceilings)), waits.delays
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_unreachable_server_backs_off_exponentially_then_recovers(fakes, tmp_path):
    xq, _ = fakes
    xq.pull_override = lambda: (503, "down")
    worker, waits = make_worker(tmp_path, ML_BACKOFF_MAX_S="30")

    def recover_after_five(seconds: float) -> bool:
        waits.delays.append(seconds)
        if len(waits.delays) == 5:
            xq.pull_override = None
            xq.add(15, BODY, {"cam.webm": f"{MEDIA}/rec1"})
        return False

    worker._wait = recover_after_five
    assert worker.run(max_jobs=1) == 1
    assert all(c / 2 <= d <= c for d, c in zip(waits.delays, [1, 2, 4, 8, 16])), waits.delays
    assert answer(xq)["correct"] is True


def test_stop_requested_mid_job_finishes_the_job_then_exits(fakes, tmp_path):
    xq, platform = fakes
    xq.add(16, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    xq.add(17, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)

    def stopping_handler(submission):
        worker.request_stop()  # SIGTERM arrives while the handler works
        return sample_handlers.ok(submission)

    use_handler(worker, stopping_handler)
    assert worker.run() == 1
    assert [json.loads(r["xqueue_header"])["submission_id"] for r in xq.results] == [16]
    assert platform.types()[-2:] == ["session_processing_end", "service_stopping"]


def test_job_outlasting_the_grace_is_handed_back_unanswered(fakes, tmp_path):
    xq, platform = fakes
    xq.add(18, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path, ML_SHUTDOWN_GRACE_S="0.01")
    release = threading.Event()

    def hanging_handler(submission):
        worker.request_stop()
        release.wait(10)
        return sample_handlers.ok(submission)

    use_handler(worker, hanging_handler)
    try:
        assert worker.run() == 1
    finally:
        release.set()
    assert xq.results == []
    failed = [e for e in platform.events if e["event_type"] == "session_processing_failed"]
    assert failed[0]["data"]["reason"] == "handed back unanswered at shutdown"
    assert platform.types()[-1] == "service_stopping"


def test_lost_lease_from_a_concurrent_pull_says_so_once_and_is_no_failure(fakes, tmp_path, caplog):
    xq, platform = fakes
    xq.put_reply = lambda form: (200, envelope(1, "Incorrect key for submission"))
    for sid in (19, 20):
        xq.add(sid, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=2)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "lease" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "another worker pulled the same submission" in warnings[0]
    assert "SUBMISSION_PROCESSING_DELAY" not in warnings[0] and "raising the delay would not help" in warnings[0]
    assert len(xq.results) == 2, "a lost lease is not retried"
    assert "session_processing_failed" not in platform.types(), "a lost lease is no failure"
    assert platform.types().count("session_processing_start") == 2


@pytest.mark.parametrize("flavour, remedy", [
    ("xqueue", "raise SUBMISSION_PROCESSING_DELAY on the XQueue server"),
    ("edx-submissions", "edx-submissions' lease is fixed at 5 minutes"),
])
def test_lost_lease_after_a_long_analysis_names_the_delay_and_its_remedy(fakes, tmp_path, caplog, flavour, remedy):
    xq, platform = fakes
    xq.put_reply = lambda form: (200, envelope(1, "Incorrect key for submission"))
    xq.add(26, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path, ML_XQUEUE_FLAVOUR=flavour)
    now = [1000.0]
    worker.clock = lambda: now[0]

    def slow_handler(submission):
        now[0] += 400.0  # longer than either server's lease
        return sample_handlers.ok(submission)

    use_handler(worker, slow_handler)
    worker.run(max_jobs=1)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "lease" in r.getMessage()]
    assert len(warnings) == 1 and "held it 400 s, longer than the server's" in warnings[0], warnings
    assert remedy in warnings[0]
    assert "session_processing_failed" not in platform.types()


def test_result_kept_after_a_lost_lease_answers_the_reoffer_without_reanalysis(fakes, tmp_path):
    xq, platform = fakes
    replies = iter([(200, envelope(1, "Incorrect key for submission")), (200, envelope(0, ""))])
    xq.put_reply = lambda form: next(replies)
    xq.add(24, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    analysed = len(sample_handlers.SEEN)
    xq.add(24, BODY, {"cam.webm": f"{MEDIA}/rec1"})  # XQueue re-offers it with a new key
    worker.run(max_jobs=2)
    assert len(sample_handlers.SEEN) == analysed, "the re-offer must not be analysed again"
    first, second = (json.loads(r["xqueue_header"])["submission_key"] for r in xq.results)
    assert first != second and second == xq.keys[24]
    assert xq.results[0]["xqueue_body"] == xq.results[1]["xqueue_body"]
    assert platform.types().count("session_processing_end") == 1


def test_undelivered_result_is_kept_and_sent_from_the_journal_after_a_restart(fakes, tmp_path):
    xq, platform = fakes
    xq.put_reply = lambda form: (503, "down")
    xq.add(25, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    assert len(xq.results) == 3 and "session_processing_end" not in platform.types()
    xq.put_reply = None  # XQueue is back; a new worker process starts on the same state dir
    restarted, _ = make_worker(tmp_path)
    restarted.journal.clock = lambda: 10**12  # the retry is due
    restarted.run(burst=True)
    assert json.loads(xq.results[-1]["xqueue_body"])["correct"] is True
    ends = [e["data"] for e in platform.events if e["event_type"] == "session_processing_end"]
    assert len(ends) == 1 and ends[0]["late"] is True and ends[0]["submission_id"] == 25


def test_put_result_transport_errors_are_retried(fakes, tmp_path):
    xq, _ = fakes
    replies = iter([(502, "bad gateway"), (502, "bad gateway"), (200, envelope(0, ""))])  # 3 attempts
    xq.put_reply = lambda form: next(replies)
    xq.add(21, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, waits = make_worker(tmp_path)
    worker.run(max_jobs=1)
    assert len(xq.results) == 3
    assert len(waits.delays) == 2


def test_platform_down_never_fails_a_job_and_events_are_resent_later(fakes, tmp_path):
    xq, platform = fakes
    platform.down = True
    xq.add(22, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    assert answer(xq)["correct"] is True
    assert worker.outbox.pending == 5
    platform.down = False  # the platform is back
    assert worker.outbox.flush() is True
    assert platform.types() == ["service_started", "heartbeat", "session_processing_start",
                                "session_processing_end", "service_stopping"]
    assert platform.events[0]["attempt"] >= 2, "the first unsent event was retried"


def test_heartbeats_continue_while_a_long_job_runs(fakes, tmp_path):
    xq, platform = fakes
    xq.add(23, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path, ML_HEARTBEAT_S="0.05")
    done = threading.Event()

    def slow_handler(submission):
        done.wait(0.4)
        return sample_handlers.ok(submission)

    use_handler(worker, slow_handler)
    worker.run(max_jobs=1)
    busy = [e for e in platform.events if e["event_type"] == "heartbeat" and e["data"]["busy_with"] == 23]
    assert len(busy) >= 2


def test_a_delivered_answer_offered_again_under_a_new_key_is_reported_and_sent_again(fakes, tmp_path, caplog):
    xq, platform = fakes
    xq.add(27, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    analysed = len(sample_handlers.SEEN)
    xq.add(27, BODY, {"cam.webm": f"{MEDIA}/rec1"})  # openedx/xqueue: the LMS callback failed
    worker.run(max_jobs=2)
    assert len(sample_handlers.SEEN) == analysed, "the kept answer is sent, not a new analysis"
    assert xq.results[0]["xqueue_body"] == xq.results[1]["xqueue_body"]
    assert any("its callback to the LMS failed" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    ends = [e["data"] for e in platform.events if e["event_type"] == "session_processing_end"]
    assert len(ends) == 2 and "answer_not_stored" not in ends[0] and "callback" in ends[1]["answer_not_stored"]


def test_the_same_key_again_after_delivery_is_a_lapsed_lease_not_a_lost_answer(fakes, tmp_path, caplog, monkeypatch):
    xq, platform = fakes
    monkeypatch.setattr("tests.xqueue_fake.secrets.token_hex", lambda n: "ab" * n)  # every pull: one key
    for _ in range(2):
        xq.add(28, BODY, {"cam.webm": f"{MEDIA}/rec1"})
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=2)
    assert not [r for r in caplog.records if "did not" in r.getMessage() or "callback to the LMS" in r.getMessage()]
    assert all("answer_not_stored" not in e["data"] for e in platform.events)
