"""Sessions submitted through the platform, and the media route that serves their files."""

from __future__ import annotations

import hashlib
import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "webcam.webm"
    path.write_bytes(b"\x1aE\xdf\xa3 fake webm " + bytes(range(256)) * 40)
    return path


def test_session_is_stored_exactly_like_a_real_submit(sandbox, xq, recording, state_dir):
    body = {"session_id": "exam42-s7", "modality": "webcam", "recordings": ["webcam.webm"]}
    sid = sandbox.submit_session("webcam", body, {"webcam.webm": recording})
    row = sandbox.state.queue.submission(sid)
    header = json.loads(row["xqueue_header"])
    assert set(header) == {"lms_callback_url", "lms_key", "queue_name"}
    assert header["queue_name"] == "webcam"
    assert header["lms_callback_url"].startswith(f"{sandbox.platform_url}/xqueue/callback/")
    assert json.loads(row["xqueue_body"]) == body
    stored = Path(state_dir) / "xqueue_media" / "webcam" / hashlib.md5(
        (row["xqueue_header"] + "webcam.webm").encode()).hexdigest()
    assert stored.read_bytes() == recording.read_bytes()


def test_pulled_file_urls_are_fetchable_without_a_cookie(sandbox, xq, recording, http):
    sandbox.submit_session("webcam", {"session_id": "s"}, {"webcam.webm": recording, "photo.jpg": recording})
    files = xq.pull_decoded("webcam")["files"]
    assert sorted(files) == ["photo.jpg", "webcam.webm"]
    for url in files.values():
        assert url.startswith(f"{sandbox.platform_url}/media/webcam/")
        resp = http.get(url)  # a fresh session: no XQueue cookie
        assert resp.status_code == 200 and resp.content == recording.read_bytes()


def test_media_urls_are_a_sessions_files_as_a_grader_pulls_them(sandbox, xq, recording, http, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo")
    sid = sandbox.submit_session("webcam", {"session_id": "s"}, {"webcam.webm": recording, "photo.jpg": photo})
    urls = sandbox.media_urls(sid)
    assert sorted(urls) == ["photo.jpg", "webcam.webm"]
    assert http.get(urls["photo.jpg"]).content == photo.read_bytes()
    assert http.get(urls["webcam.webm"]).content == recording.read_bytes()
    assert urls == xq.pull_decoded("webcam")["files"]
    assert sandbox.media_urls(sid + 1) == {}


def test_lms_submit_files_are_hosted_too(sandbox, xq, http):
    xq.submit("audio", files={"enrol.wav": b"RIFF....WAVE"})
    [url] = xq.pull_decoded("audio")["files"].values()
    assert http.get(url).content == b"RIFF....WAVE"


def test_submit_session_returns_id_and_callback(sandbox, http):
    resp = http.post(f"{sandbox.platform_url}/api/sessions",
                     data={"queue": "debug", "body": json.dumps({"session_id": "a"})})
    assert resp.status_code == 200
    reply = resp.json()
    assert reply["submission_id"] == 1
    assert reply["callback"].startswith(f"{sandbox.platform_url}/xqueue/callback/")
    second = http.post(f"{sandbox.platform_url}/api/sessions",
                       data={"queue": "debug", "body": json.dumps({"session_id": "a"})}).json()
    assert second["callback"] != reply["callback"]  # one callback URL per submission


@pytest.mark.parametrize("data", [{"queue": "nope", "body": "{}"}, {"body": "{}"}, {"queue": "debug"},
                                  {"queue": "debug", "body": "  "}])
def test_bad_session_request_is_400(sandbox, http, data):
    assert http.post(f"{sandbox.platform_url}/api/sessions", data=data).status_code == 400
    assert sandbox.state.queue.queue_length("debug") == 0


def test_session_id_is_read_from_an_lms_grader_payload(sandbox, xq):
    body = {"grader_payload": json.dumps({"session_id": "wrapped-1"}), "student_response": ""}
    sandbox.submit_session("debug", body, {})
    pulled = xq.pull_decoded("debug")
    xq.put_result(pulled["header_text"], "{}")
    assert sandbox.results()[0]["session_id"] == "wrapped-1"


def _raw_get(sandbox, path):
    parts = urlsplit(sandbox.platform_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)  # sent as is: no client-side dot-segment removal
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/media/../sandbox.db", "/media/%2e%2e/sandbox.db", "/media/..%2fsigning.key",
    "/media/webcam/../../signing.key", "/media/%2e%2e%2fsigning.key", "/media//etc/passwd",
    "/media/..", "/media/.%2e/sandbox.db", "/media/webcam/.upload-x",
])
def test_media_traversal_is_refused(sandbox, path, state_dir):
    status, body = _raw_get(sandbox, path)
    assert status in (308, 404), (status, body[:80])
    assert (Path(state_dir) / "signing.key").read_bytes().strip() not in body
    assert b"SQLite format" not in body


def test_media_missing_file_is_404(sandbox):
    assert _raw_get(sandbox, "/media/webcam/" + "0" * 32)[0] == 404
