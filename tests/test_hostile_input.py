"""Hostile input against the whole pull loop (issue 24): the worker survives and answers.

Each test pulls something an attacker (or a broken server) could send through httpretty's
XQueue and platform, and checks that the worker keeps running, answers what can be answered
with its error code, and quotes no more of the input than a bounded excerpt.
"""

from __future__ import annotations

import json

import httpretty
import pytest

from ml_service.core import metrics
from ml_service.sandbox.demo_media import make_wav
from ml_service.samples.hostile_media import make_png_bomb
from tests import sample_handlers
from tests.test_worker import BODY, answer, fakes, make_worker  # noqa: F401 - fakes is a fixture
from tests.xqueue_fake import MEDIA, envelope

FILES = {"cam.webm": f"{MEDIA}/rec1"}


def test_a_submission_id_over_63_bits_does_not_stop_the_worker(fakes, tmp_path):
    xq, _ = fakes
    xq.add(2**63, BODY, FILES)
    xq.add(31, BODY, FILES)
    worker, _ = make_worker(tmp_path)
    assert worker.run(max_jobs=1) == 1
    assert [json.loads(r["xqueue_header"])["submission_id"] for r in xq.results] == [31]
    assert answer(xq)["correct"] is True


def test_an_opaque_token_with_a_wordy_expires_in_does_not_stop_the_worker(fakes, tmp_path, caplog):
    xq, _ = fakes
    httpretty.reset()  # the platform now answers only this broken token reply
    xq.install()
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/rec1", body=b"RIFF-fake-media-bytes")
    httpretty.register_uri(httpretty.POST, "http://platform.test/ml/auth/token",
                           body=json.dumps({"access_token": "opaque-9f2", "expires_in": "one hour"}))
    xq.add(32, BODY, FILES)
    worker, _ = make_worker(tmp_path)
    assert worker.run(max_jobs=1) == 1
    assert answer(xq)["correct"] is True
    assert worker.outbox.pending == 5  # kept for later
    assert "expires_in that is not a positive number" in caplog.text


BIG = "A" * 1_500_000


@pytest.mark.parametrize("body, files", [
    ({**BODY, "options": BIG}, FILES),                            # a wrong-typed field
    ({**BODY, "options": {"k": [BIG]}, "modality": [BIG]}, FILES),
    ({**BODY, "recordings": [BIG]}, FILES),                       # a file name xqueue_files lacks
    ({**BODY, "session_id": BIG}, FILES),
    (BODY, {"x" * 200_000 + ".webm": "http://evil.example/a"}),     # a long file name, refused host
])
def test_a_huge_value_is_quoted_as_a_short_excerpt_and_the_answer_is_accepted(fakes, tmp_path, caplog, body, files):
    xq, _ = fakes
    xq.put_reply = lambda form: (413, "<h1>Request Entity Too Large</h1>") if len(form["xqueue_body"]) > 100_000 \
        else (200, envelope(0, ""))
    xq.add(33, body, files)
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    assert len(xq.results) == 1 and len(xq.results[0]["xqueue_body"]) < 5_000
    reply = answer(xq)
    assert reply["result"]["error_code"] in (3, 4) and 20 < len(reply["result"]["msg"]) <= 1_100
    assert worker.journal.get("debug", 33).state == "delivered"
    assert max(len(r.getMessage()) for r in caplog.records) < 2_000


def nested(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


@pytest.mark.parametrize("body, text", [
    (nested(10_000), "nested deeper than"),
    ('{"session_id": "s", "options": {"deep": ' + nested(900) + "}}", "nested deeper than"),
    ('{"grader_payload": "' + nested(5_000).replace('"', '\\"') + '"}', "nested deeper than"),
    ('{"session_id": "s", "options": {"t": NaN}}', "not valid JSON"),
    ('{"session_id": "s", "options": {"t": Infinity}}', "not valid JSON"),
    ('{"session_id": "s", "options": {"t": 1e999}}', "not valid JSON"),
    (json.dumps({"session_id": "s", "student_id": "B" * 1_100_000}), "over the 1000000-character limit"),
], ids=["10000-levels", "options-900-levels", "grader-payload-5000-levels", "NaN", "Infinity", "1e999", "1.1-MB"])
def test_deep_large_or_non_standard_json_bodies_are_malformed_submissions(fakes, tmp_path, body, text):
    xq, _ = fakes
    xq.add(34, body, FILES)
    worker, _ = make_worker(tmp_path)
    worker.run(max_jobs=1)
    reply = answer(xq)
    assert reply["result"]["error_code"] == 4, reply["result"]["msg"]
    assert text in reply["result"]["msg"]


@pytest.mark.parametrize("reply, answered", [
    ('{"return_code": 0, "content": ' + nested(100_000) + "}", 0),    # the envelope itself
    (envelope(0, json.dumps({"xqueue_header": nested(50_000), "xqueue_body": "{}", "xqueue_files": "{}"})), 0),
    (envelope(0, json.dumps({"xqueue_header": json.dumps({"submission_id": 35, "submission_key": "ab"}),
                             "xqueue_body": "{}", "xqueue_files": nested(50_000)})), 1),
], ids=["envelope", "header", "files"])
def test_a_deeply_nested_pull_reply_does_not_stop_the_worker(fakes, tmp_path, reply, answered):
    xq, _ = fakes
    replies = iter([(200, reply)])
    xq.pull_override = lambda: next(replies, None) or (200, envelope(1, "Queue 'debug' is empty"))
    worker, waits = make_worker(tmp_path)
    waits.stop_after = 3
    worker.run()
    assert len(xq.results) == answered
    if answered:
        assert "nested deeper than" in answer(xq)["result"]["msg"]


def test_a_token_failure_while_downloading_platform_media_is_a_media_error(fakes, tmp_path):
    xq, platform = fakes
    httpretty.register_uri(httpretty.GET, "http://platform.test/media/rec", body=b"RIFF")
    platform.secret = "rotated-on-the-platform"  # the worker's client secret is now refused
    xq.add(36, BODY, {"cam.webm": "http://platform.test/media/rec"})
    worker, waits = make_worker(tmp_path)
    worker.analyse.keywords["fetcher"].retry_wait = waits
    worker.run(max_jobs=1)
    reply = answer(xq)
    assert reply["result"]["error_code"] == 3 and "platform token" in reply["result"]["msg"]
    assert waits.delays[:4] == [0.5, 1.0, 2.0, 4.0]  # retried like any transient failure


def test_a_reference_photo_over_the_pixel_limit_is_not_used_and_the_result_says_so(fakes, tmp_path):
    xq, _ = fakes
    photo = make_png_bomb(tmp_path / "bomb.png")
    assert photo.stat().st_size < 500_000
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/face", body=photo.read_bytes())
    xq.add(38, {**BODY, "reference_photo": "face.png"}, {**FILES, "face.png": f"{MEDIA}/face"})
    (tmp_path / "w").mkdir()
    worker, _ = make_worker(tmp_path / "w")
    worker.run(max_jobs=1)
    reply = answer(xq)
    assert reply["correct"] is True
    assert sample_handlers.SEEN[-1]["submission_id"] == 38 and sample_handlers.SEEN[-1]["reference_photo"] is None
    notes = reply["result"]["media"]["notes"]
    assert any("20000x20000" in n and "100000000-pixel limit" in n for n in notes), notes
    assert "reference photo &#x27;face.png&#x27; not used" in reply["msg"]


def test_a_recording_longer_than_the_configured_maximum_is_refused(fakes, tmp_path):
    xq, _ = fakes
    wav = make_wav(tmp_path / "long.wav", seconds=8.0)
    httpretty.register_uri(httpretty.GET, f"{MEDIA}/long", body=wav.read_bytes())
    xq.add(39, BODY, {"long.wav": f"{MEDIA}/long"})
    (tmp_path / "w").mkdir()
    worker, _ = make_worker(tmp_path / "w", ML_MEDIA_MAX_DURATION_S="5")
    worker.run(max_jobs=1)
    msg = answer(xq)["result"]["msg"]
    assert answer(xq)["result"]["error_code"] == 3
    assert "'long.wav' is 8 s long, longer than the configured maximum of 5 s (ML_MEDIA_MAX_DURATION_S)" in msg
    assert not sample_handlers.SEEN or sample_handlers.SEEN[-1]["submission_id"] != 39


@pytest.mark.parametrize("handler", ["opens_a_missing_file", "names_its_paths"])
def test_no_internal_path_reaches_the_lms(fakes, tmp_path, handler):
    xq, _ = fakes
    xq.add(40, BODY, FILES)
    worker, _ = make_worker(tmp_path, handler)
    worker.run(max_jobs=1)
    body = xq.results[-1]["xqueue_body"]
    assert str(tmp_path) not in body and "job-40-" not in body, body
    reply = answer(xq)
    if handler == "opens_a_missing_file":
        assert "FileNotFoundError" in reply["result"]["msg"] and "frames/0001.png" in reply["result"]["msg"]
    else:
        assert reply["result"]["media"]["files"][0]["path"] == "cam.webm" and "read cam.webm" in reply["msg"]


def unanswerable_count() -> float:
    value = metrics.default().registry.get_sample_value(
        "ml_service_submissions_unanswered_total", {"modality": "debug", "reason": "unanswerable"})
    return value or 0.0


@pytest.mark.parametrize("header", [
    {"submission_id": 41, "submission_key": 41},
    {"submission_id": -1, "submission_key": "ab"},
    {"submission_id": 2**64, "submission_key": "ab"},
    {"submission_key": "ab"},
    "not an object",
], ids=["bad-key", "negative-id", "id-over-63-bits", "no-id", "header-not-object"])
def test_an_unanswerable_pull_is_logged_counted_and_reported_once(fakes, tmp_path, caplog, header):
    xq, platform = fakes
    content = json.dumps({"xqueue_header": json.dumps(header), "xqueue_body": json.dumps(BODY),
                          "xqueue_files": json.dumps(FILES)})
    offers = iter([envelope(0, content)] * 3)  # XQueue re-offers it after every lease
    xq.pull_override = lambda: (200, next(offers, envelope(1, "Queue 'debug' is empty")))
    before = unanswerable_count()
    worker, waits = make_worker(tmp_path)
    waits.stop_after = 2
    worker.run()
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "cannot be answered" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert unanswerable_count() - before == 1
    failed = [e["data"] for e in platform.events if e["event_type"] == "session_processing_failed"]
    assert len(failed) == 1 and failed[0]["unanswerable"] is True and failed[0]["reason"]
    assert xq.results == [] and waits.delays[0] < 1.5, "no error backoff: the server is fine"
