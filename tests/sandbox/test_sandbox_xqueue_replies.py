"""The XQueue server's replies, string for string as openedx/xqueue answers (XQUEUE.md §1-4)."""

from __future__ import annotations

import json
import re

import pytest

QUEUES = "debug, webcam, screencast, audio, keystrokes"


def test_status_needs_no_login(anon):
    assert anon.call("GET", "/xqueue/status/") == (0, "OK")


def test_login_replies(anon):
    assert anon.call("GET", "/xqueue/login/") == (1, "login_required")
    assert anon.call("POST", "/xqueue/login/", data={"username": "ml_service"}) == (
        1, "Insufficient login info")
    assert anon.login("ml_service", "wrong") == (1, "Incorrect login credentials")
    assert anon.login("nobody", "ml_password") == (1, "Incorrect login credentials")


def test_login_with_password_but_no_username_is_a_server_error(anon):
    """xqueue's quirk (verified on a real server): only the password field is checked."""
    assert anon.raw("POST", "/xqueue/login/", data={"password": "x"}).status_code == 500


def test_login_sets_session_and_csrf_cookies(anon):
    resp = anon.raw("POST", "/xqueue/login/", data={"username": "ml_service", "password": "ml_password"})
    assert resp.json() == {"return_code": 0, "content": "Logged in"}
    cookies = resp.headers["Set-Cookie"]
    assert re.search(r"sessionid=[a-z0-9]{32};", cookies)
    session_cookie = next(c for c in resp.raw.headers.getlist("Set-Cookie") if c.startswith("sessionid="))
    assert "HttpOnly" in session_cookie and "Max-Age=1209600" in session_cookie
    assert "csrftoken=" in cookies


def test_logout_ends_the_session(xq):
    assert xq.call("POST", "/xqueue/logout/") == (0, "Goodbye")
    assert xq.raw("GET", "/xqueue/get_queuelen/", params={"queue_name": "debug"}).status_code == 302


@pytest.mark.parametrize("path, location", [
    ("/xqueue/status", "/xqueue/status/"),
    ("/xqueue/login", "/xqueue/login/"),
    ("/xqueue/get_queuelen?queue_name=debug", "/xqueue/get_queuelen/?queue_name=debug"),
    ("/xqueue/put_result", "/xqueue/put_result/"),
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_path_without_slash_is_301_to_slashed(anon, path, location, method):
    resp = anon.raw(method, path)
    assert resp.status_code == 301
    assert resp.headers["Location"] == location


@pytest.mark.parametrize("method, path, next_", [
    ("GET", "/xqueue/get_queuelen/?queue_name=debug", "/xqueue/get_queuelen/%3Fqueue_name%3Ddebug"),
    ("GET", "/xqueue/get_submission/?queue_name=debug", "/xqueue/get_submission/%3Fqueue_name%3Ddebug"),
    ("POST", "/xqueue/put_result/", "/xqueue/put_result/"),
    ("GET", "/xqueue/put_result/", "/xqueue/put_result/"),
    ("POST", "/xqueue/submit/", "/xqueue/submit/"),
])
def test_protected_endpoints_redirect_to_login(anon, method, path, next_):
    resp = anon.raw(method, path)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/xqueue/login/?next={next_}"


def test_forged_session_cookie_is_not_a_login(anon):
    anon.http.cookies.set("sessionid", "a" * 32)
    assert anon.raw("GET", "/xqueue/get_queuelen/?queue_name=debug").status_code == 302


def test_get_queuelen_replies(xq):
    assert xq.call("GET", "/xqueue/get_queuelen/") == (
        1, "'get_queuelen' must provide parameter 'queue_name'")
    assert xq.queuelen("nope") == (1, f"Valid queue names are: {QUEUES}")
    assert xq.queuelen("debug") == (0, 0)


def test_queuelen_counts_unretired_unleased_submissions(xq):
    for _ in range(3):
        xq.submit("debug", callback=f"http://127.0.0.1:9/{_}")
    xq.submit("webcam")
    assert xq.queuelen("debug") == (0, 3)  # a JSON number, not a string
    assert xq.queuelen("webcam") == (0, 1)
    xq.pull_decoded("debug")
    assert xq.queuelen("debug") == (0, 2)


def test_get_submission_replies(xq):
    assert xq.call("GET", "/xqueue/get_submission/") == (
        1, "'get_submission' must provide parameter 'queue_name'")
    assert xq.pull("nope") == (1, "Queue 'nope' not found")
    assert xq.pull("debug") == (1, "Queue 'debug' is empty")


def test_submit_replies(xq):
    assert xq.call("GET", "/xqueue/submit/") == (1, "Queue requests should use HTTP POST")
    assert xq.call("POST", "/xqueue/submit/", data={"xqueue_body": "{}"}) == (
        1, "Queue request has invalid format")
    for header in ("not json", "[1, 2]", json.dumps({"lms_callback_url": "u", "queue_name": "debug"})):
        assert xq.call("POST", "/xqueue/submit/", data={"xqueue_header": header, "xqueue_body": "{}"}) == (
            1, "Queue request has invalid format")
    assert xq.submit("nope") == (1, "Queue 'nope' not found")
    assert xq.submit("debug", callback="http://127.0.0.1:9/a") == (0, "1")  # a digit string
    assert xq.submit("debug", callback="http://127.0.0.1:9/b") == (0, "2")


def test_put_result_replies(xq):
    assert xq.call("GET", "/xqueue/put_result/") == (1, "'put_result' must use HTTP POST")
    assert xq.call("POST", "/xqueue/put_result/", data={"xqueue_body": "{}"}) == (1, "Incorrect reply format")
    for header in ("not json", "[]", json.dumps({"submission_id": 1}), json.dumps({"submission_key": "k"}),
                   json.dumps({"submission_id": "x", "submission_key": "k"})):
        assert xq.put_result(header, "{}") == (1, "Incorrect reply format")
    assert xq.put_result({"submission_id": 999, "submission_key": "0" * 32}, "{}") == (
        1, "Submission does not exist")
    xq.submit("debug")
    pulled = xq.pull_decoded("debug")
    wrong = {"submission_id": pulled["header"]["submission_id"], "submission_key": "f" * 32}
    assert xq.put_result(wrong, "{}") == (1, "Incorrect key for submission")


def test_unpulled_submission_has_no_valid_key(xq):
    xq.submit("debug")
    assert xq.put_result({"submission_id": 1, "submission_key": ""}, "{}") == (
        1, "Incorrect key for submission")


def test_get_submission_content_has_three_layers(xq):
    body = json.dumps({"session_id": "s1", "student_response": "x"})
    xq.submit("debug", body=body)
    code, content = xq.pull("debug")
    assert code == 0 and isinstance(content, str)
    outer = json.loads(content)
    assert set(outer) == {"xqueue_header", "xqueue_body", "xqueue_files"}
    assert all(isinstance(value, str) for value in outer.values())
    header = json.loads(outer["xqueue_header"])
    assert set(header) == {"submission_id", "submission_key"}
    assert isinstance(header["submission_id"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", header["submission_key"])
    assert outer["xqueue_body"] == body  # verbatim
    assert outer["xqueue_files"] == "{}"


def test_any_configured_user_can_log_in(config, tmp_path, clock):
    from ml_service.sandbox import Sandbox, SandboxConfig

    cfg = SandboxConfig(state_dir=tmp_path / "other", xqueue_port=0, platform_port=0, clock=clock,
                        users={"alice": "pw-a", "bob": "pw-b"}, queues=["a", "b"])
    with Sandbox(cfg) as sb:
        import requests

        http = requests.Session()
        http.trust_env = False
        reply = http.post(f"{sb.xqueue_url}/xqueue/login/", data={"username": "bob", "password": "pw-b"})
        assert reply.json() == {"return_code": 0, "content": "Logged in"}
        queuelen = http.get(f"{sb.xqueue_url}/xqueue/get_queuelen/", params={"queue_name": "c"})
        assert queuelen.json()["content"] == "Valid queue names are: a, b"


def test_submit_builds_xqueue_files_from_file_parts_only(xq):
    """openedx/xqueue ignores an ``xqueue_files`` form field (XQUEUE.md §11): so does the sandbox."""
    urls = json.dumps({"webcam.webm": "http://127.0.0.1:9/elsewhere.webm"})
    for callback, parts in (("http://127.0.0.1:9/a", {"mic.wav": ("mic.wav", b"RIFF")}), ("http://127.0.0.1:9/b", None)):
        header = json.dumps({"lms_callback_url": callback, "lms_key": "k", "queue_name": "webcam"})
        form = {"xqueue_header": header, "xqueue_body": "{}", "xqueue_files": urls}
        assert xq.call("POST", "/xqueue/submit/", data=form, files=parts)[0] == 0
    assert list(xq.pull_decoded("webcam")["files"]) == ["mic.wav"]
    assert xq.pull_decoded("webcam")["files"] == {}
