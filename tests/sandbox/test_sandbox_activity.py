"""The status page reloads itself and shows each service's throughput and last error."""

from __future__ import annotations

import json

import pytest

from ml_service.core.results import build_result

EVIL = '<script>alert("x")</script>'
CAM = {"name": "cam-1", "queue": "webcam", "version": "1", "host": "n1"}
MIC = {"name": "mic-1", "queue": "audio", "version": "1", "host": "n2"}


@pytest.fixture
def send(sandbox, http, token, clock):
    def send(service, event_type, data, after_s=0.0):
        clock.advance(after_s)
        body = {"timestamp": "2026-11-23T10:00:00Z", "event_type": event_type, "data": data,
                "attempt": 1, "service": service}
        resp = http.post(f"{sandbox.platform_url}/ml/events", json=body,
                         headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text

    return send


def _job(send, service, n, seconds, fail=None):
    send(service, "session_processing_start", {"session_id": f"s{n}", "submission_id": n})
    if fail is None:
        result = {"processing_time_s": seconds, "error_code": 0}
        send(service, "session_processing_end", {"session_id": f"s{n}", "submission_id": n, "result": result},
             after_s=seconds)
    else:
        send(service, "session_processing_failed",
             {"session_id": f"s{n}", "submission_id": n, "error_code": fail[0], "reason": fail[1]}, after_s=seconds)


def test_services_carry_throughput_mean_time_and_last_error(sandbox, send):
    send(CAM, "service_started", {})
    _job(send, CAM, 1, 10.0)
    _job(send, CAM, 2, 20.0, fail=(3, "media download failed: HTTP 404"))
    _job(send, CAM, 3, 30.0)
    _job(send, CAM, 4, 5.0, fail=(5, "the handler exceeded its time limit " + "x" * 300))  # 4 done in 65 s
    send(MIC, "heartbeat", {})
    cam, mic = sorted(sandbox.services(), key=lambda s: s["name"])
    assert (cam["ok"], cam["failed"]) == (2, 2)
    assert cam["per_minute"] == pytest.approx(4 / (65 / 60))
    assert cam["mean_processing_s"] == pytest.approx(20.0)
    error = cam["last_error"]
    assert (error["session_id"], error["submission_id"], error["error_code"]) == ("s4", 4, 5)
    assert error["reason"].startswith("the handler exceeded") and len(error["reason"]) == 161
    assert error["received"].endswith("Z")
    assert (mic["ok"], mic["failed"], mic["per_minute"], mic["mean_processing_s"], mic["last_error"]) == (
        0, 0, None, None, None)


def test_page_shows_the_figures_escaped_and_reloads_itself(sandbox, xq, http, send):
    _job(send, CAM, 1, 12.0)
    _job(send, CAM, 2, 18.0, fail=(1, f"handler raised: {EVIL}"))
    violations = [{"type": t, "start_s": 1.0, "end_s": 2.0, "confidence": 0.9, "details": {}}
                  for t in ("face_absent", "face_absent", "multiple_faces")]
    sandbox.submit_session("webcam", {"session_id": "exam-7"}, {})
    pulled = xq.pull_decoded("webcam")
    result = build_result("webcam", violations, {"duration_s": 10.0}, 0.5)
    reply = {"correct": True, "score": result["score"], "msg": "", "result": result}
    assert xq.put_result(pulled["header_text"], json.dumps(reply)) == (0, "")

    resp = http.get(f"{sandbox.platform_url}/")
    assert resp.headers["Refresh"] == "5" and resp.headers["Cache-Control"] == "no-store"
    text = resp.text
    assert '<meta http-equiv="refresh" content="5">' in text and "<script" not in text
    assert '<td class="num">4.0</td>' in text  # 2 sessions finished in 30 s: 4.0 per minute
    assert '<td class="num">12.0 s</td>' in text  # mean analysis time of the successful one
    assert "error 1" in text and "(session s2)" in text
    assert "&lt;script&gt;" in text and EVIL not in text
    assert "face_absent ×2, multiple_faces" in text
    assert 'href="/report/1"' in text
