"""put_result's LMS callback: delivery to the results store, failures, retries, retirement."""

from __future__ import annotations

import json

import pytest

from ml_service.sandbox.callback import is_loopback_url

REPLY = json.dumps({"correct": True, "score": 0.9, "msg": "<p>ok</p>",
                    "result": {"modality": "debug", "violations": [{}, {}], "error_code": 0, "score": 0.9}})


def test_session_result_reaches_the_results_store(sandbox, xq, clock):
    sid = sandbox.submit_session("debug", {"session_id": "exam42-s7", "modality": "debug"}, {})
    pulled = xq.pull_decoded("debug")
    assert pulled["header"]["submission_id"] == sid
    assert xq.put_result(pulled["header_text"], REPLY) == (0, "")
    [row] = sandbox.results()
    assert row["session_id"] == "exam42-s7" and row["queue"] == "debug"
    assert row["submission_id"] == sid and row["body"] == json.loads(REPLY)
    assert row["received"].endswith("Z")
    clock.advance(3600)
    assert xq.queuelen("debug") == (0, 0)  # delivered, so retired


def test_callback_posts_original_lms_header_and_reply_verbatim(xq, lms):
    xq.submit("debug", callback=lms.url, extra_field="kept")
    pulled = xq.pull_decoded("debug")
    assert xq.put_result(pulled["header_text"], "reply text, not JSON") == (0, "")
    [post] = lms.posts
    assert json.loads(post["xqueue_header"]) == {
        "lms_callback_url": lms.url, "lms_key": "k", "queue_name": "debug", "extra_field": "kept"}
    assert post["xqueue_body"] == "reply text, not JSON"


def test_duplicate_put_result_is_accepted_and_sent_again(xq, lms):
    xq.submit("debug", callback=lms.url)
    pulled = xq.pull_decoded("debug")
    assert xq.put_result(pulled["header_text"], "one") == (0, "")
    assert xq.put_result(pulled["header_text"], "two") == (0, "")
    assert [p["xqueue_body"] for p in lms.posts] == ["one", "two"]


def test_failed_callback_is_tried_five_times_then_reoffered(sandbox, xq, lms, clock):
    lms.status = 500
    xq.submit("debug", callback=lms.url)
    first = xq.pull_decoded("debug")
    assert xq.put_result(first["header_text"], "r") == (0, "")  # success reply all the same
    assert len(lms.posts) == 5
    row = sandbox.state.queue.submission(first["header"]["submission_id"])
    assert row["num_failures"] == 1 and not row["retired"] and row["grader_reply"] == "r"
    assert xq.queuelen("debug") == (0, 0)  # still leased
    clock.advance(61)
    again = xq.pull_decoded("debug")
    assert again["header"]["submission_id"] == first["header"]["submission_id"]
    assert again["header"]["submission_key"] != first["header"]["submission_key"]


def test_retired_after_more_than_three_failed_callbacks(sandbox, xq, lms, clock):
    lms.status = 404
    xq.submit("debug", callback=lms.url)
    for failures in range(1, 5):
        pulled = xq.pull_decoded("debug")
        assert xq.put_result(pulled["header_text"], "r") == (0, "")
        row = sandbox.state.queue.submission(pulled["header"]["submission_id"])
        assert row["num_failures"] == failures
        assert bool(row["retired"]) is (failures > 3)
        clock.advance(61)
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")


def test_callback_to_unreachable_port_counts_as_failure(sandbox, xq):
    xq.submit("debug", callback="http://127.0.0.1:9/nothing-listens")
    pulled = xq.pull_decoded("debug")
    assert xq.put_result(pulled["header_text"], "r") == (0, "")
    assert sandbox.state.queue.submission(pulled["header"]["submission_id"])["num_failures"] == 1


def test_non_loopback_callback_is_never_contacted(sandbox, xq):
    xq.submit("debug", callback="http://192.0.2.1/callback")  # TEST-NET-1: must not be tried
    pulled = xq.pull_decoded("debug")
    assert xq.put_result(pulled["header_text"], "r") == (0, "")
    assert sandbox.state.queue.submission(pulled["header"]["submission_id"])["num_failures"] == 1


def test_platform_callback_refuses_wrong_lms_key(sandbox, http):
    created = http.post(f"{sandbox.platform_url}/api/sessions",
                        data={"queue": "debug", "body": '{"session_id": "s"}'}).json()
    url = created["callback"]
    wrong = json.dumps({"lms_key": "not-the-key"})
    assert http.post(url, data={"xqueue_header": wrong, "xqueue_body": "{}"}).status_code == 404
    assert http.post(f"{sandbox.platform_url}/xqueue/callback/unknown",
                     data={"xqueue_header": "{}", "xqueue_body": "{}"}).status_code == 404
    assert http.post(url, data={"xqueue_body": "{}"}).status_code == 400
    assert sandbox.results() == []


@pytest.mark.parametrize("url, ok", [
    ("http://127.0.0.1:8000/x", True), ("http://localhost/x", True), ("https://127.9.9.9/x", True),
    ("http://[::1]:80/x", True), ("http://10.0.0.1/x", False), ("http://example.com/x", False),
    ("ftp://127.0.0.1/x", False), ("http://127.0.0.1.example.com/x", False), ("not a url", False),
    ("http://[::1/x", False),
    ("http://127.0.0.1@192.0.2.1/x", False), ("http://localhost.example.com/x", False),
])
def test_is_loopback_url(url, ok):
    assert is_loopback_url(url) is ok
