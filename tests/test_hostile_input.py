"""Hostile input against the whole pull loop (issue 24): the worker survives and answers.

Each test pulls something an attacker (or a broken server) could send through httpretty's
XQueue and platform, and checks that the worker keeps running, answers what can be answered
with its error code, and quotes no more of the input than a bounded excerpt.
"""

from __future__ import annotations

import json

import httpretty
import pytest

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
