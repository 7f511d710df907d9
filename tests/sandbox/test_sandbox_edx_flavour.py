"""``sandbox --flavour edx-submissions``: /xqueue/ as edx-submissions 4.0.2 answers (XQUEUE.md §10).

Every status code and reply text here was seen on the real package (tests/interop runs it).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from ml_service.sandbox import Sandbox, SandboxConfig
from ml_service.sandbox.counts import QueueCounts
from ml_service.sandbox.edx_store import score_problem
from ml_service.sandbox.live_platform import LiveSession
from tests.sandbox.conftest import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER, FakeClock, new_session, page_queue_counts

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class EdxClient:
    """A test client of the edx flavour: JSON replies with real status codes, CSRF on POST."""

    def __init__(self, base: str) -> None:
        self.base, self.http = base, new_session()

    def send(self, method: str, path: str, csrf: bool = True, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if csrf and method == "POST" and "csrftoken" in self.http.cookies:
            headers["X-CSRFToken"] = self.http.cookies["csrftoken"]
        return self.http.request(method, self.base + path, headers=headers, allow_redirects=False,
                                 timeout=30, **kwargs)

    def login(self) -> requests.Response:
        self.send("GET", "/xqueue/login/")
        return self.send("POST", "/xqueue/login/", data={"username": USER, "password": PASSWORD})

    def pull(self, queue: str = "webcam") -> dict[str, Any] | None:
        resp = self.send("GET", "/xqueue/get_submission/", params={"queue_name": queue})
        assert resp.status_code == 200, resp.text
        reply = resp.json()
        if reply["return_code"] != 0:
            return None
        outer = json.loads(reply["content"])
        return {"header": outer["xqueue_header"], "key": json.loads(outer["xqueue_header"])["submission_key"],
                "body": json.loads(outer["xqueue_body"]), "files": json.loads(outer["xqueue_files"])}

    def put(self, header: str, body: Any, **kwargs: Any) -> requests.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return self.send("POST", "/xqueue/put_result/", data={"xqueue_header": header, "xqueue_body": text}, **kwargs)


def envelope(resp: requests.Response) -> tuple[int, int, Any]:
    assert resp.headers["Content-Type"] == "application/json", resp.headers
    return resp.status_code, resp.json()["return_code"], resp.json()["content"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def start(tmp_path: Path, clock: FakeClock, **extra: Any) -> Sandbox:
    config = SandboxConfig(state_dir=tmp_path / "edx", xqueue_port=0, platform_port=0, clock=clock,
                           clients={CLIENT_ID: CLIENT_SECRET}, flavour="edx-submissions", **extra)
    return Sandbox(config)


@pytest.fixture
def edx(tmp_path: Path, clock: FakeClock) -> Iterator[Sandbox]:
    with start(tmp_path, clock) as sandbox:
        yield sandbox


@pytest.fixture
def xq(edx: Sandbox) -> EdxClient:
    client = EdxClient(edx.xqueue_url)
    assert client.login().status_code == 200
    return client


def submit(sb: Sandbox, session_id: str = "exam-1", files: dict[str, bytes] | None = None, **form: str) -> int:
    parts = {name: (name, data) for name, data in (files or {}).items()}
    resp = new_session().post(f"{sb.platform_url}/api/sessions", files=parts or None, timeout=30,
                              data={"queue": "webcam", "body": json.dumps({"session_id": session_id}), **form})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["submission_id"])


def test_login_hands_out_the_csrf_cookie_and_answers_with_real_status_codes(edx):
    client = EdxClient(edx.xqueue_url)
    first = client.send("GET", "/xqueue/login/")
    assert envelope(first) == (200, 0, "") and "csrftoken" in first.cookies
    assert envelope(client.send("POST", "/xqueue/login/", data={"username": USER})) == \
        (400, 1, "Insufficient login info")
    assert envelope(client.send("POST", "/xqueue/login/", data={"username": USER, "password": "nope"})) == \
        (401, 1, "Incorrect login credentials")
    before = client.http.cookies["csrftoken"]
    ok = client.send("POST", "/xqueue/login/", data={"username": USER, "password": PASSWORD})
    assert envelope(ok) == (200, 0, "Logged in") and ok.cookies["csrftoken"] != before, "login rotates CSRF"


@pytest.mark.parametrize("method, path", [("GET", "/xqueue/get_submission/?queue_name=webcam"),
                                          ("POST", "/xqueue/put_result/"), ("POST", "/xqueue/status/"),
                                          ("GET", "/xqueue/put_result/")])  # authentication before the method
def test_without_a_session_every_endpoint_but_login_answers_403(edx, method, path):
    resp = EdxClient(edx.xqueue_url).send(method, path)
    assert resp.status_code == 403 and resp.json() == {"detail": "Authentication credentials were not provided."}


def test_no_get_queuelen_no_submit_and_a_post_only_status(xq):
    assert xq.send("GET", "/xqueue/get_queuelen/", params={"queue_name": "webcam"}).status_code == 404
    assert xq.send("POST", "/xqueue/submit/", data={"xqueue_header": "{}", "xqueue_body": "{}"}).status_code == 404
    assert xq.send("GET", "/xqueue/status/").json() == {"detail": 'Method "GET" not allowed.'}
    posted = xq.send("POST", "/xqueue/status/")
    assert (posted.status_code, posted.text) == (200, "return_codecontent"), "the real view's non-JSON body"


@pytest.mark.parametrize("method, path", [("PUT", "/xqueue/login/"), ("GET", "/xqueue/logout/"),
                                          ("POST", "/xqueue/get_submission/"), ("GET", "/xqueue/put_result/")])
def test_a_method_a_view_does_not_take_answers_405(xq, method, path):
    resp = xq.send(method, path)
    assert resp.status_code == 405 and resp.json() == {"detail": f'Method "{method}" not allowed.'}


def test_get_submission_replies(xq):
    assert envelope(xq.send("GET", "/xqueue/get_submission/")) == \
        (400, 1, "'get_submission' must provide parameter 'queue_name'")
    assert envelope(xq.send("GET", "/xqueue/get_submission/", params={"queue_name": "webcam"})) == \
        (200, 1, "Queue 'webcam' is empty")


def test_a_pull_carries_a_uuid_key_the_answer_in_student_response_and_extensionless_files(edx, xq):
    sid = submit(edx, files={"webcam.webm": b"VIDEO"}, grader="webcam-strict", student_id="anon-7")
    pulled = xq.pull()
    assert json.loads(pulled["header"])["submission_id"] == sid and UUID_RE.match(pulled["key"])
    assert json.loads(pulled["body"]["grader_payload"]) == {"grader": "webcam-strict"}
    assert json.loads(pulled["body"]["student_response"]) == {"session_id": "exam-1"}
    assert json.loads(pulled["body"]["student_info"])["anonymous_student_id"] == "anon-7"
    url = pulled["files"]["webcam.webm"]
    assert UUID_RE.match(url.rsplit("/", 1)[1]) and "/webcam/" in url
    assert requests.get(url, timeout=10).content == b"VIDEO"


def test_media_urls_are_a_sessions_files_from_this_flavours_store(edx, xq, tmp_path):
    video, photo = tmp_path / "webcam.webm", tmp_path / "photo.jpg"
    video.write_bytes(b"\x1aE\xdf\xa3 webm " + bytes(range(256)) * 8)
    photo.write_bytes(b"\xff\xd8\xff photo")
    sid = edx.submit_session("webcam", {"session_id": "exam-1"}, {"webcam.webm": video, "photo.jpg": photo})
    urls = edx.media_urls(sid)
    assert sorted(urls) == ["photo.jpg", "webcam.webm"]
    http = new_session()
    assert [http.get(urls[n], timeout=10).content for n in ("webcam.webm", "photo.jpg")] == \
        [video.read_bytes(), photo.read_bytes()]
    assert urls == xq.pull()["files"], "the URLs a grader pulls"
    assert edx.state.queue.file_keys(sid) == {}, "the xqueue store never saw it"
    assert edx.media_urls(sid + 1) == {}


def test_a_live_sessions_later_segment_names_the_reference_by_its_url(edx, xq, tmp_path):
    photo, seg0, seg1 = tmp_path / "photo.jpg", tmp_path / "seg0.wav", tmp_path / "seg1.wav"
    for path in (photo, seg0, seg1):
        path.write_bytes(path.name.encode() * 50)
    live = LiveSession(edx, "webcam", "exam-live", references={"reference_photo": photo})
    live.submit(0, 0.0, {"seg0.wav": seg0})
    live.submit(1, 30.0, {"seg1.wav": seg1})
    first, second = xq.pull(), xq.pull()
    assert sorted(first["files"]) == ["reference-photo.jpg", "seg0.wav"] and sorted(second["files"]) == ["seg1.wav"]
    named = json.loads(second["body"]["student_response"])["media_urls"]
    assert named == {"reference-photo.jpg": first["files"]["reference-photo.jpg"]}, "uploaded once, then by URL"
    assert new_session().get(named["reference-photo.jpg"], timeout=10).content == photo.read_bytes()


def test_put_result_enforces_csrf_then_stores_the_scaled_score_once(edx, xq):
    sid = submit(edx, points_possible="10")
    pulled = xq.pull()
    missing = xq.put(pulled["header"], {"score": 0.69}, csrf=False)
    assert missing.status_code == 403 and missing.json() == {"detail": "CSRF Failed: CSRF token missing."}
    wrong = xq.put(pulled["header"], {"score": 0.69}, csrf=False, headers={"X-CSRFToken": "x" * 32})
    assert wrong.json() == {"detail": "CSRF Failed: CSRF token incorrect."}
    assert envelope(xq.put(pulled["header"], {"score": 0.69})) == (200, 0, "")
    row = edx.state.edx.submission(sid)
    assert (row["status"], row["points_earned"], row["num_failures"]) == ("retired", 7, 0)
    assert [r["body"] for r in edx.results()] == [{"score": 0.69}], "the LMS side saw it once"
    again = xq.put(pulled["header"], {"score": 0.69})
    assert again.status_code == 500 and "Server Error (500)" in again.text, "a second answer: HTTP 500"
    assert len(edx.results()) == 1


def test_put_result_refusals(edx, xq):
    sid = submit(edx)
    pulled = xq.pull()
    stale = json.dumps({"submission_id": sid, "submission_key": str(uuid.uuid4())})
    assert envelope(xq.put(stale, {"score": 1})) == (403, 1, "Incorrect key for submission")
    ghost = json.dumps({"submission_id": 999, "submission_key": pulled["key"]})
    assert envelope(xq.put(ghost, {"score": 1})) == (404, 1, "Submission does not exist")
    assert envelope(xq.put(json.dumps({"submission_id": sid}), {"score": 1})) == (400, 1, "Incorrect reply format")
    assert envelope(xq.put(pulled["header"], "not json")) == (400, 1, "Incorrect reply format")
    assert xq.put(pulled["header"], [1, 2]).status_code == 500, "a JSON body that is no object breaks the view"


def test_a_lapsed_lease_re_offers_to_every_poll_with_the_same_key(edx, xq, clock):
    submit(edx)
    first = xq.pull()
    assert xq.pull() is None, "hidden while the 5-minute lease runs"
    clock.advance(301)
    again, once_more = xq.pull(), xq.pull()
    assert again["key"] == once_more["key"] == first["key"], "no new key, no new status_time"


def test_the_status_page_counts_this_flavours_submissions(edx, xq, clock):
    for n in range(5):
        submit(edx, session_id=f"exam-{n}")
    scored, unscored, _leased = xq.pull(), xq.pull(), xq.pull()
    assert envelope(xq.put(scored["header"], {"score": 1})) == (200, 0, "")
    assert envelope(xq.put(unscored["header"], {"msg": "no score"})) == (200, 0, ""), "retry: offered again"
    expected = {"webcam": (3, 1, 1), "audio": (0, 0, 0), "screencast": (0, 0, 0), "debug": (0, 0, 0),
                "keystrokes": (0, 0, 0)}
    http = new_session()
    assert page_queue_counts(http.get(f"{edx.platform_url}/").text) == expected
    api = http.get(f"{edx.platform_url}/api/queues").json()
    assert {q: (c["waiting"], c["pulled"], c["answered"]) for q, c in api.items()} == expected
    assert edx.state.queue.counts("webcam") == QueueCounts(0, 0, 0), "none of them is in the xqueue store"
    clock.advance(301)  # the lease lapses: the pulled one is offered again
    assert page_queue_counts(http.get(f"{edx.platform_url}/").text)["webcam"] == (4, 0, 1)


@pytest.mark.parametrize("score, stored", [(0.69, None), (1, 1), (0, 0), (3.0, 3)])
def test_the_integer_contract_of_earlier_releases(tmp_path, clock, score, stored):
    with start(tmp_path, clock, edx_score="integer") as sb:
        sid = submit(sb)
        client = EdxClient(sb.xqueue_url)
        client.login()
        pulled = client.pull()
        assert envelope(client.put(pulled["header"], {"score": score})) == (200, 0, ""), "success on the wire"
        row = sb.state.edx.submission(sid)
        if stored is None:
            assert (row["status"], row["num_failures"], row["points_earned"]) == ("retry", 1, None)
            assert client.pull()["key"] != pulled["key"], "a retry is offered at once, with a new key"
        else:
            assert (row["status"], row["points_earned"]) == ("retired", stored)


def test_a_score_it_cannot_store_fails_the_submission_at_the_fifth_try(edx, xq):
    sid = submit(edx)
    for attempt in range(1, 6):
        pulled = xq.pull()
        assert envelope(xq.put(pulled["header"], {"msg": "no score"})) == (200, 0, "")
        row = edx.state.edx.submission(sid)
        assert row["num_failures"] == attempt
    assert row["status"] == "failed" and xq.pull() is None and edx.results() == []


@pytest.mark.parametrize("score, possible, expected", [
    (0.69, 10, (7, None)), (1, 1, (1, None)), (None, 1, (None, "This field may not be null.")),
    ("0.5", 1, (None, "A valid integer is required.")), (-1, 1, (None, "Ensure this value is greater than or "
                                                                  "equal to 0.")),
    (float("nan"), 1, (None, "A valid integer is required.")),
])
def test_score_contract_of_4_0_2(score, possible, expected):
    assert score_problem(score, possible, "scaled") == expected
