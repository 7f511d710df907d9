"""The HTML status page, and a restart on the same state dir keeping everything."""

from __future__ import annotations

import json
import re

import pytest

from ml_service.sandbox import Sandbox, SandboxConfig
from tests.sandbox.conftest import page_queue_counts

EVIL = '<script>alert("x")</script>'


def _event(service, event_type="heartbeat", data=None):
    return {"timestamp": "2026-11-23T10:00:00Z", "event_type": event_type, "data": data or {},
            "attempt": 1, "service": service}


@pytest.fixture
def send_event(sandbox, http, token):
    def send(body):
        resp = http.post(f"{sandbox.platform_url}/ml/events", json=body,
                         headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text

    return send


def _answer(sandbox, xq, queue, session_id, reply):
    sandbox.submit_session(queue, {"session_id": session_id}, {})
    pulled = xq.pull_decoded(queue)
    assert xq.put_result(pulled["header_text"], json.dumps(reply)) == (0, "")


def test_page_shows_services_and_results(sandbox, xq, http, send_event, clock):
    send_event(_event({"name": "cam-1", "queue": "webcam", "version": "1.2.3", "host": "n1"}))
    send_event(_event({"name": "mic-1", "queue": "audio", "version": "1.2.3", "host": "n2"},
                      "session_processing_start", {"session_id": "exam-9"}))
    send_event(_event({"name": "scr-1", "queue": "screencast", "version": "1", "host": "n3"}, "service_stopping"))
    result = {"modality": "webcam", "error_code": 0, "score": 0.75, "violations": [{}, {}, {}]}
    _answer(sandbox, xq, "webcam", "exam-1", {"correct": True, "score": 0.75, "msg": "", "result": result})
    page = http.get(f"{sandbox.platform_url}/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    for expected in ("cam-1", "mic-1", "1.2.3", "exam-9", "exam-1", "0.75", ">3<", "alive", "stopped"):
        assert expected in text
    clock.advance(91)
    text = http.get(f"{sandbox.platform_url}/").text
    assert ">stale<" in text


def test_page_and_api_count_each_queues_waiting_pulled_and_answered(sandbox, xq, http, lms, clock):
    for n in range(4):  # one callback each: xqueue retires an earlier submission with the same one
        assert xq.submit("webcam", body=f"w{n}", callback=f"{lms.url}/{n}")[0] == 0
    xq.submit("audio", body="a", callback=f"{lms.url}/a")
    answered, _leased = xq.pull_decoded("webcam"), xq.pull_decoded("webcam")
    assert xq.put_result(answered["header_text"], json.dumps({"correct": True, "score": 1, "msg": ""})) == (0, "")
    assert len(lms.posts) == 1, "delivered to the LMS: retired"
    expected = {"webcam": (2, 1, 1), "audio": (1, 0, 0), "screencast": (0, 0, 0), "debug": (0, 0, 0),
                "keystrokes": (0, 0, 0)}
    assert page_queue_counts(http.get(f"{sandbox.platform_url}/").text) == expected
    api = http.get(f"{sandbox.platform_url}/api/queues").json()
    assert {q: (c["waiting"], c["pulled"], c["answered"]) for q, c in api.items()} == expected
    assert api["webcam"]["waiting"] == xq.queuelen("webcam")[1], "waiting is what get_queuelen answers"
    clock.advance(61)  # the lease lapses: the unanswered one is offered again
    assert page_queue_counts(http.get(f"{sandbox.platform_url}/").text)["webcam"] == (3, 0, 1)


def test_page_has_no_external_url_or_resource(sandbox, xq, http, send_event):
    send_event(_event({"name": "cam-1", "queue": "webcam", "version": "1", "host": "n1"}))
    _answer(sandbox, xq, "debug", "s", {"correct": False, "score": 0, "msg": "", "result": {"error_code": 3}})
    resp = http.get(f"{sandbox.platform_url}/")
    for url in re.findall(r"[a-z]+://[^\s\"'<>]+", resp.text):
        assert url.startswith((sandbox.platform_url, sandbox.xqueue_url)), url
    assert not re.search(r"\b(src|href|action)\s*=", resp.text, re.I)
    assert "<script" not in resp.text.lower() and "@import" not in resp.text
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


def test_page_escapes_every_name(sandbox, xq, http, send_event):
    svc = {"name": EVIL, "queue": "<b>q</b>", "version": "&v", "host": "h\"><img src=x>"}
    send_event(_event(svc, "session_processing_start", {"session_id": "<i>sess</i>"}))
    result = {"modality": "<u>mod</u>", "error_code": "<e>", "violations": []}
    _answer(sandbox, xq, "debug", "<s>id</s>", {"correct": True, "score": "<x>", "result": result})
    text = http.get(f"{sandbox.platform_url}/").text
    for raw in (EVIL, "<b>q</b>", "<img src=x>", "<i>sess</i>", "<u>mod</u>", "<s>id</s>", "<e>", "<x>"):
        assert raw not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    assert "&amp;v" in text and "&lt;i&gt;sess&lt;/i&gt;" in text


def test_restart_keeps_all_state(config, xq, sandbox, http, send_event, credentials, clock):
    send_event(_event({"name": "cam-1", "queue": "webcam", "version": "1", "host": "n1"}))
    _answer(sandbox, xq, "debug", "before-restart", {"correct": True, "score": 1, "msg": ""})
    xq.submit("webcam", body="waiting", callback="http://127.0.0.1:9/w")
    xq.submit("audio", body="leased", callback="http://127.0.0.1:9/a")
    leased = xq.pull_decoded("audio")
    sandbox.add_client("late-client", "late-secret")
    before = (sandbox.results(), sandbox.services(), sandbox.events())
    token = http.post(f"{sandbox.platform_url}/ml/auth/token",
                      json={"client_id": credentials[0], "client_secret": credentials[1]}).json()["access_token"]
    sandbox.stop()

    with Sandbox(config) as again:  # same state dir, new ports
        assert (again.results(), again.services(), again.events()) == before
        xq.base = again.xqueue_url  # same cookie: the login session survived too
        assert xq.queuelen("webcam") == (0, 1) and xq.queuelen("audio") == (0, 0)
        assert xq.put_result(leased["header_text"], "{}") == (0, "")  # key still valid
        assert xq.pull_decoded("webcam")["body"] == "waiting"
        resp = http.post(f"{again.platform_url}/ml/events", headers={"Authorization": f"Bearer {token}"},
                         json=_event({"name": "cam-1", "queue": "webcam", "version": "1", "host": "n1"}))
        assert resp.status_code == 200  # the signing key survived
        assert http.post(f"{again.platform_url}/ml/auth/token",
                         json={"client_id": "late-client", "client_secret": "late-secret"}).status_code == 200


def test_restart_with_a_different_queue_list(config, sandbox, xq, tmp_path):
    xq.submit("webcam", body="kept", callback="http://127.0.0.1:9/w")
    sandbox.stop()
    settings = {**vars(config), "queues": ["debug"]}
    with Sandbox(SandboxConfig(**settings)) as again:
        xq.base = again.xqueue_url
        assert xq.pull("webcam") == (1, "Queue 'webcam' not found")
    with Sandbox(config) as third:
        xq.base = third.xqueue_url
        assert xq.pull_decoded("webcam")["body"] == "kept"
